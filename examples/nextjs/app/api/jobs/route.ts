// POST /api/jobs  { steps?: number }  ->  202 { id }
import { RedisUnavailableError } from 'bullrush';
import { getQueue } from '@/lib/queue';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  let body: { steps?: unknown } = {};
  try {
    const text = await request.text();
    if (text) body = JSON.parse(text);
  } catch {
    return Response.json({ error: 'body must be JSON' }, { status: 400 });
  }
  const steps = body.steps === undefined ? 10 : Number(body.steps);
  if (!Number.isInteger(steps) || steps < 1 || steps > 100) {
    return Response.json({ error: 'steps must be an integer in 1..100' }, { status: 400 });
  }
  try {
    const job = await getQueue().add('report', { steps }, { removeOnComplete: 100, removeOnFail: 100 });
    return Response.json({ id: job.id }, { status: 202 });
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      return Response.json({ error: 'queue unavailable' }, { status: 503 });
    }
    if (err instanceof TypeError) return Response.json({ error: err.message }, { status: 400 });
    throw err;
  }
}
