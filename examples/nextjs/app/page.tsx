'use client';

import { useEffect, useRef, useState } from 'react';

type Status = 'idle' | 'starting' | 'waiting' | 'active' | 'completed' | 'failed' | 'error';

export default function Home() {
  const [jobId, setJobId] = useState<string | null>(null);
  const [status, setStatus] = useState<Status>('idle');
  const [progress, setProgress] = useState(0);
  const [detail, setDetail] = useState('');
  const [log, setLog] = useState<string[]>([]);
  const source = useRef<EventSource | null>(null);

  useEffect(() => () => source.current?.close(), []);

  async function start() {
    source.current?.close();
    setStatus('starting');
    setProgress(0);
    setDetail('');
    setLog([]);
    const res = await fetch('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ steps: 10 }),
    });
    const body = await res.json();
    if (!res.ok) {
      setStatus('error');
      setDetail(`${res.status}: ${body.error}`);
      return;
    }
    setJobId(body.id);
    setStatus('waiting');

    const es = new EventSource(`/api/jobs/${body.id}/events`);
    source.current = es;
    const record = (name: string) => (e: MessageEvent) => setLog((l) => [...l, `${name} ${e.data}`]);
    es.addEventListener('active', (e) => {
      record('active')(e);
      setStatus('active');
    });
    es.addEventListener('progress', (e) => {
      record('progress')(e);
      const { data } = JSON.parse(e.data);
      setStatus('active');
      if (typeof data === 'number') setProgress(data);
    });
    es.addEventListener('completed', (e) => {
      record('completed')(e);
      setStatus('completed');
      setProgress(100);
      setDetail(JSON.stringify(JSON.parse(e.data).returnvalue));
      es.close(); // the server ends the stream; without close() EventSource would reconnect
    });
    es.addEventListener('failed', (e) => {
      record('failed')(e);
      setStatus('failed');
      setDetail(JSON.parse(e.data).failedReason);
      es.close();
    });
  }

  const busy = status === 'starting' || status === 'waiting' || status === 'active';
  return (
    <main>
      <h1>bullrush + Next.js</h1>
      <p>
        The button adds a job with <code>POST /api/jobs</code>; the worker process reports its progress, which
        arrives here over Server-Sent Events from <code>/api/jobs/[id]/events</code>.
      </p>
      <button onClick={start} disabled={busy}>
        {busy ? 'Running…' : 'Start a job'}
      </button>
      <p>
        {jobId ? `Job ${jobId}: ` : ''}
        <strong data-testid="status">{status}</strong> {detail && <code>{detail}</code>}
      </p>
      <progress value={progress} max={100} style={{ width: '100%', height: '1.5rem' }} />
      <p>{progress}%</p>
      <pre style={{ background: '#f4f4f4', padding: '0.5rem', fontSize: 12, minHeight: '4rem' }}>{log.join('\n')}</pre>
      <p>
        <a href="/api/health">/api/health</a>
      </p>
    </main>
  );
}
