// GET /api/health  ->  200 { status: 'ok', redis, queues } or 503 when unhealthy
import { health } from 'bullrush';
import { getQueue } from '@/lib/queue';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET() {
  const report = await health([getQueue()], { timeoutMs: 1000 });
  return Response.json(report, { status: report.status === 'ok' ? 200 : 503 });
}
