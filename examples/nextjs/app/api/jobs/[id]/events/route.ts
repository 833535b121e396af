// GET /api/jobs/:id/events  ->  text/event-stream of that job's events
// (progress, completed, failed, ...); ends by itself when the job finishes.
import { sseResponse } from 'bullrush';
import { getQueue } from '@/lib/queue';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

// Next 15+: params is a Promise (Next 14: `{ params }: { params: { id: string } }`).
export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  // request: honours the browser's Last-Event-ID and ends the feed when it goes away.
  return sseResponse(getQueue(), { jobId: id, request });
}
