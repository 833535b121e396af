'use strict';

// Tables (console and Markdown) and the SVG chart for bench/run.js.
// Input: the per-scenario summaries built by run.js (medians over rounds).

const IMPLS = ['bullmq', 'bullrush'];

// ---------------------------------------------------------------- formatting

const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function fmtRate(x) {
  return x === null || x === undefined ? 'n/a' : nf0.format(x);
}

function fmtUs(x) {
  if (x === null || x === undefined) return 'n/a';
  return x >= 100 ? nf0.format(x) : x.toFixed(1);
}

function fmtMB(x) {
  return x === null || x === undefined ? 'n/a' : x.toFixed(0);
}

function fmtMs(x) {
  if (x === null || x === undefined) return 'n/a';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function ratio(a, b) {
  return a === null || b === null || a === undefined || b === undefined || b === 0 ? null : a / b;
}

function fmtRatio(r) {
  return r === null ? 'n/a' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

const ok = (s) => !s.notYet && s.impls.bullmq.ok && s.impls.bullrush.ok;

// ---------------------------------------------------------------- rows

const HEADER = [
  'scenario',
  'bullmq jobs/s', 'bullrush jobs/s', 'ratio',
  'CPU µs/job bullmq', 'bullrush', 'ratio',
  'Redis µs/job bullmq', 'bullrush', 'ratio',
  'peak RSS MB bullmq', 'bullrush',
];

/** One array of cells per scenario (failed or missing cells say so). */
function mainRows(summaries) {
  const rows = summaries.filter((s) => s.runner !== 'queue-events').map((s) => {
    const name = `${s.id}. ${s.label}`;
    if (s.notYet) return [name, s.notYet, ...Array(HEADER.length - 2).fill('')];
    const [m, r] = IMPLS.map((impl) => s.impls[impl]);
    const cell = (impl, f, key) => (impl.ok ? f(impl[key]) : 'FAIL');
    const ratioCell = (key) => (m.ok && r.ok ? fmtRatio(ratio(r[key], m[key])) : '—');
    const paced = s.runner === 'latency' ? ' (paced)' : '';
    return [
      name,
      cell(m, fmtRate, 'jobsPerSec') + paced, cell(r, fmtRate, 'jobsPerSec') + paced, ratioCell('jobsPerSec'),
      cell(m, fmtUs, 'cpuUsPerJob'), cell(r, fmtUs, 'cpuUsPerJob'), ratioCell('cpuUsPerJob'),
      cell(m, fmtUs, 'redisUsPerJob'), cell(r, fmtUs, 'redisUsPerJob'), ratioCell('redisUsPerJob'),
      cell(m, fmtMB, 'peakRssMB'), cell(r, fmtMB, 'peakRssMB'),
    ];
  });
  const qe = summaries.filter((s) => s.runner === 'queue-events');
  if (qe.length) {
    const failed = qe.filter((s) => !ok(s)).map((s) => s.id);
    rows.push([
      `8. QueueEvents fan-out (${qe.map((s) => s.impls.bullmq.qe?.listeners ?? s.impls.bullrush.qe?.listeners ?? s.id).join(', ')} listeners)`,
      failed.length ? `FAIL (${failed.join(', ')}): see below` : 'see the QueueEvents table',
      ...Array(HEADER.length - 2).fill(''),
    ]);
  }
  return rows;
}

const UTIL_HEADER = [
  'scenario',
  'bullmq: client cores', 'Redis cores', 'sum',
  'bullrush: client cores', 'Redis cores', 'sum',
];

/**
 * CPU per job × jobs/s = cores kept busy. On a 2-core machine a sum near 1.0
 * means the client and Redis take turns (one request in flight at a time);
 * near 2.0 means they work in parallel.
 */
function utilRows(summaries) {
  return summaries
    .filter((s) => ok(s) && s.runner !== 'latency' && s.runner !== 'queue-events')
    .map((s) => {
      const cells = IMPLS.flatMap((impl) => {
        const i = s.impls[impl];
        const client = (i.cpuUsPerJob * i.jobsPerSec) / 1e6;
        const redis = i.redisUsPerJob === null ? null : (i.redisUsPerJob * i.jobsPerSec) / 1e6;
        const f = (x) => (x === null ? 'n/a' : x.toFixed(2));
        return [f(client), f(redis), f(redis === null ? null : client + redis)];
      });
      return [`${s.id}. ${s.label}`, ...cells];
    });
}

function roundRows(summaries) {
  return summaries
    .filter((s) => !s.notYet && s.runner !== 'latency' && s.runner !== 'queue-events')
    .map((s) => [
      `${s.id}. ${s.label}`,
      ...IMPLS.map((impl) => (s.impls[impl].roundJobsPerSec || []).map(fmtRate).join(' / ') || 'n/a'),
    ]);
}

const LAT_HEADER = [
  'implementation',
  'add→processor start p50 ms', 'p99', 'max',
  'add→completed event p50 ms', 'p99', 'max',
];

function latencyRows(summaries) {
  const s = summaries.find((x) => x.runner === 'latency');
  if (!s) return [];
  return IMPLS.map((impl) => {
    const i = s.impls[impl];
    if (!i.ok || !i.latency) return [impl, 'FAIL', '', '', '', '', ''];
    const { toStart: a, toCompleted: c } = i.latency;
    return [impl, fmtMs(a.p50), fmtMs(a.p99), fmtMs(a.max), fmtMs(c.p50), fmtMs(c.p99), fmtMs(c.max)];
  });
}

const QE_HEADER = [
  'listeners', 'implementation',
  'QueueEvents connections', 'all connections of the process', 'ready in ms',
  'add→\'added\' event p50 ms', 'p99', 'max', 'last event after s',
  'CPU µs per delivered event', 'every round', 'listeners\' process cores',
  'Redis µs/job', 'peak RSS MB',
];

/** 8: one row per listener count and implementation. */
function qeRows(summaries) {
  return summaries
    .filter((s) => s.runner === 'queue-events')
    .flatMap((s) =>
      IMPLS.map((impl) => {
        const i = s.impls[impl];
        const q = i.qe;
        const n = q ? q.listeners : (s.impls.bullmq.qe || s.impls.bullrush.qe || {}).listeners || s.id;
        if (!i.ok || !q) return [n, impl, 'FAIL', ...Array(QE_HEADER.length - 3).fill('')];
        const other = s.impls[impl === 'bullmq' ? 'bullrush' : 'bullmq'];
        const cpuRatio = impl === 'bullrush' && other.ok && other.qe ? ` (${fmtRatio(ratio(q.cpuUsPerEvent, other.qe.cpuUsPerEvent))})` : '';
        const f2 = (x) => (x === null || x === undefined ? 'n/a' : x >= 10 ? x.toFixed(1) : x.toFixed(2));
        return [
          n, impl,
          nf0.format(q.connections.qe), q.connections.process === null ? 'n/a' : nf0.format(q.connections.process), fmtMs(q.readyMs),
          fmtMs(q.latency.added.p50), fmtMs(q.latency.added.p99), fmtMs(q.latency.added.max), q.windowS.toFixed(1),
          f2(q.cpuUsPerEvent) + cpuRatio, q.roundCpuUsPerEvent.map(f2).join(' / '), q.listenerCores.toFixed(2),
          fmtUs(i.redisUsPerJob), fmtMB(i.peakRssMB),
        ];
      }),
    );
}

function problems(summaries) {
  const out = [];
  for (const s of summaries) {
    if (s.notYet) continue;
    for (const impl of IMPLS) {
      const i = s.impls[impl];
      for (const e of i.errors) out.push(`FAIL ${s.id}. ${s.label} [${impl}]: ${e}`);
      for (const w of i.warnings) out.push(`warning ${s.id}. ${s.label} [${impl}]: ${w}`);
    }
  }
  return out;
}

/** One sentence on how busy the rest of the machine was during timed sections. */
function loadNote(meta) {
  const v = [...(meta.otherCores || [])].sort((a, b) => a - b);
  if (!v.length) return '';
  const med = v[Math.floor((v.length - 1) / 2)];
  const max = v[v.length - 1];
  const busy = v.filter((x) => x > 0.25).length;
  return (
    `CPU used by other processes during the timed sections: median ${med.toFixed(2)}, max ${max.toFixed(2)} cores` +
    (busy ? ` (${busy} of ${v.length} sections above 0.25 cores: those numbers are less reliable)` : '') +
    '.'
  );
}

// ---------------------------------------------------------------- console

function textTable(header, rows) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) =>
    cells.map((x, c) => (c === 0 ? String(x).padEnd(widths[c]) : String(x).padStart(widths[c]))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n');
}

function consoleTables(summaries, meta) {
  const parts = [
    `Medians over ${meta.rounds} round(s) per implementation (${meta.mode} mode). ratio = bullrush / bullmq ` +
      '(jobs/s: higher is better for bullrush; CPU: lower is better).' +
      (meta.mode === 'quick'
        ? '\nQuick mode: runs of a fraction of a second, where BullMQ\'s JavaScript is not JIT-warm yet; ' +
          'it flatters bullrush. Use the full run for real numbers.'
        : ''),
    textTable(HEADER, mainRows(summaries)),
  ];
  const util = utilRows(summaries);
  if (util.length) {
    parts.push('Cores kept busy (CPU/job × jobs/s; the machine has ' + meta.machine.cores + '):', textTable(UTIL_HEADER, util));
  }
  const lat = latencyRows(summaries);
  if (lat.length) parts.push('Latency at a steady 1k jobs/s (Worker in the adding process):', textTable(LAT_HEADER, lat));
  const qe = qeRows(summaries);
  if (qe.length) {
    parts.push(
      '8. QueueEvents fan-out: N listeners in one process, 500 jobs/s added and processed by a second process; ' +
        "CPU per event = listeners' process CPU ÷ (4 events per job × jobs × listeners):",
      textTable(QE_HEADER, qe),
    );
  }
  const note = loadNote(meta);
  if (note) parts.push(note);
  const p = problems(summaries);
  if (p.length) parts.push(p.join('\n'));
  return `${parts.join('\n\n')}\n`;
}

// ---------------------------------------------------------------- markdown

function mdTable(header, rows) {
  const esc = (x) => String(x).replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, c) => (c === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function markdown(summaries, meta) {
  const m = meta.machine;
  const p = problems(summaries);
  const lat = latencyRows(summaries);
  const qe = qeRows(summaries);
  const qeSummaries = summaries.filter((s) => s.runner === 'queue-events');
  const qeEntries = qeSummaries
    .flatMap((s) => IMPLS.map((impl) => s.impls[impl].qe && s.impls[impl].qe.streamEntriesPerJob))
    .filter((x) => typeof x === 'number');
  const qeEntriesNote = qeEntries.length
    ? `\nEach job wrote ${Math.min(...qeEntries).toFixed(1)}–${Math.max(...qeEntries).toFixed(1)} stream entries (the four above plus ` +
      "'drained' whenever the Worker emptied the queue), all read by every listener."
    : '';
  const qeSeconds = qe.length ? (qeSummaries[0].impls.bullmq.jobs || qeSummaries[0].impls.bullrush.jobs || 0) / 500 : 0;
  const qeSection = qe.length
    ? `
### 8. QueueEvents fan-out

N \`QueueEvents\` on one queue in one process; a second process adds jobs at a steady 500 jobs/s for ${qeSeconds} s and
processes them with a Worker (concurrency 10). Every listener subscribes to \`added\`, \`waiting\`, \`active\` and
\`completed\` and must receive each of them for every job exactly once, or the scenario fails.${qeEntriesNote}
The listeners' process holds nothing but the listeners (and the bench's \`CLIENT LIST\` connection), so its CPU is theirs.

- **CPU µs per delivered event**: the listeners' process CPU (user + sys, all threads) over the timed section ÷
  (4 × jobs × listeners); bullrush's ratio to bullmq (bullrush ÷ bullmq, lower is better) is in brackets.
- **listeners' process cores**: the same CPU ÷ the section's wall time. Near 1.0 (or above, with GC or Rust threads)
  the process was busy all the time: events queue up, and the latency shows that backlog, not the delivery path.
- **add → 'added' event**: from just before \`queue.add()\` in the producer to the \`'added'\` listener call, for every
  listener and every job (jobs × listeners samples).
- **last event after**: the timed section, from the first add until the last listener has the last event
  (the adds take ${qeSeconds} s).

${mdTable(QE_HEADER, qe)}
`
    : '';
  const sizes = summaries
    .filter((s) => !s.notYet)
    .map((s) => {
      const j = s.impls.bullmq.jobs || s.impls.bullrush.jobs;
      return `${s.id}: ${j === undefined ? '?' : nf0.format(j)}`;
    })
    .join(', ');
  return `# bullrush vs BullMQ: benchmark results

Generated by \`${meta.command}\` on ${meta.date} (wall time ${meta.wallS.toFixed(0)} s${
    meta.waitedS === undefined ? '' : `, of which ${meta.waitedS.toFixed(0)} s waiting for other processes to finish`
  }).
Re-run with \`node bench/run.js\` (or \`npm run bench\`); \`--quick\` runs a 5× smaller version and does not touch this file.

| | |
| --- | --- |
| CPU | ${m.cpuModel} |
| cores | ${m.cores} |
| OS | ${m.os} |
| Node.js | ${m.node} |
| Redis | ${m.redis} (private redis-server started by the bench, \`--save "" --appendonly no\`) |
| bullmq | ${m.bullmq} |
| bullrush | ${m.bullrush} (git ${m.bullrushGit}; addon built ${m.addonBuilt || 'unknown'}) |

Medians over ${meta.rounds} rounds per implementation, run alternately (bullmq, bullrush, bullmq, bullrush, …).
ratio = bullrush ÷ bullmq: for jobs/s higher is better for bullrush, for CPU lower is better.
Jobs timed per round: ${sizes}.
${loadNote(meta)}

![jobs/s ratio per scenario](chart.svg)

${mdTable(HEADER, mainRows(summaries))}

### Cores kept busy

CPU per job × jobs/s, for the client process and for Redis. On this ${m.cores}-core machine a sum near 1.0
means the client and Redis take turns (one request in flight at a time, each waiting for the other); a sum
near ${m.cores}.0 means they work in parallel.

${mdTable(UTIL_HEADER, utilRows(summaries))}
${lat.length ? `\n### 7. Latency at a steady 1k jobs/s\n\n${mdTable(LAT_HEADER, lat)}\n` : ''}${qeSection}
### jobs/s of every round

Rounds ran in this order: bullmq 1, bullrush 1, bullmq 2, bullrush 2, and so on. The spread between rounds of the same
implementation shows how much of a difference between the two is noise.

${mdTable(['scenario', 'bullmq rounds', 'bullrush rounds'], roundRows(summaries))}
${p.length ? `\n### Failures and warnings\n\n${p.map((x) => `- ${x}`).join('\n')}\n` : ''}
## Scenarios

1. \`queue.add\` awaited one at a time, after 1k untimed warm-up adds; data \`{user:{id:1,name:'x'},items:[1,2,3]}\`.
2. \`queue.add\` with 100 calls in flight at any time (100 lanes, each awaiting its add before the next).
3. \`queue.addBulk\` in batches of 50 (3a) and of 1000 (3b), batches awaited one after another.
4. – 6. The queue is pre-filled with \`addBulk\` (not timed); the clock runs from \`worker.run()\` (after
   \`waitUntilReady()\`) until the last job's \`'completed'\` event. 4: no-op async processor, concurrency 1;
   5: no-op, concurrency 100; 6: jobs added with the job option \`removeOnComplete: true\` (BullMQ's *Worker* option
   only accepts \`{count, age}\`: \`true\` there makes BullMQ 6.7's moveToFinished script fail and jobs stay active),
   processor returns \`{ok:true,n:job.data.n}\`, concurrency 10.
   Each run checks that every job completed exactly once (distinct ids in \`'completed'\` events == jobs, no
   \`'failed'\`), that 6's results arrive intact, and that Redis' job counts agree afterwards; otherwise the scenario fails.
7. One process adds jobs at a steady 1,000 jobs/s for 5 s (after 100 warm-up jobs) while a Worker (concurrency 10)
   in the same process consumes them. Latency is measured from an \`hrtime\` map keyed by \`job.data.n\`, set just
   before \`queue.add()\` is called: add → processor start, and add → the Worker's \`'completed'\` event.
   jobs/s for this row is the pacing rate, not a throughput.
8. QueueEvents fan-out (8a: 1 listener, 8b: 100, 8c: 1000). The measured process creates N \`QueueEvents\` on one
   queue, in batches of 50, each batch awaited with \`waitUntilReady()\` (BullMQ opens one Redis connection per
   QueueEvents; the bench checks Redis' \`maxclients\` first). BullMQ's \`waitUntilReady()\` resolves before its first
   \`XREAD\`, so for bullmq the bench also waits until \`CLIENT LIST\` shows every QueueEvents connection blocked in
   \`XREAD\`; for bullrush it relies on \`waitUntilReady()\` ("no later event can be missed"), which the warm-up checks.
   A forked producer process (\`bench/scenario.js <impl> qe-producer\`) runs the same implementation's Queue and Worker
   (concurrency 10, processor returns the job's name as a number). After 20 warm-up jobs that every listener must
   receive in full (untimed), the producer adds jobs at a steady 500 jobs/s for 5 s (\`queue.add\` not awaited, paced
   like 7); the timed section ends when every listener has every event. The events stream's cap is raised from
   BullMQ's default 10,000 entries to 100,000 (BullMQ's Queue option \`streams.events.maxLen\`, and meta's
   \`opts.maxLenEvents\`, which bullrush reads): a run writes about 10,000 entries, and a listener that falls behind
   by more than the cap loses the trimmed entries, which would measure retention rather than delivery. Each job's
   name is its add time on \`CLOCK_MONOTONIC\` (\`process.hrtime\`, shared by all processes on the machine), taken
   just before \`queue.add()\`, so a listener computes add → \`'added'\` latency from the event alone.
   **Connections** come from \`CLIENT LIST\` after the warm-up and after the timed section (the larger count): "QueueEvents connections" are those named
   \`bull:<base64(queue)>:qe\` (both implementations name them so); "all connections of the process" are the clients
   whose port belongs to a socket of the listeners' process (\`/proc/self/fd\` matched with \`/proc/net/tcp\`), the
   bench's own \`CLIENT LIST\` connection left out. **ready in** is from the first constructor to the last listener
   ready (for bullmq including the \`XREAD\` check, polled every 50 ms). **Redis µs/job** is all of Redis' CPU over
   the section (adds, Worker and every listener's reads) ÷ jobs. **peak RSS** of the listeners' process includes the
   bench's per-listener bookkeeping (9 bytes per job and listener: 23 MB at 1000 listeners).

## How it is measured

- Every round of every implementation runs in its own child process (\`bench/scenario.js\`), on a fresh queue name;
  the parent runs \`FLUSHALL\` between children (untimed). The child waits for the parent's acknowledgement before
  starting its clock and after stopping it.
- **CPU µs/job**: \`process.cpuUsage()\` delta (user + system) of the child over the timed section, divided by the
  jobs. It covers every thread of the process: the JS thread, libuv, and bullrush's Rust threads.
- **Redis µs/job**: \`INFO cpu\` (\`used_cpu_user + used_cpu_sys\`) read by the parent when the child signals start
  and end of its timed section (so the window includes one IPC round trip and an \`INFO\` call each side), minus
  Redis' idle CPU over the same window (idle baseline measured once at startup:
  ${meta.idleRedisUsPerSec.toFixed(0)} µs per second), divided by the jobs.
- **peak RSS**: \`process.memoryUsage().rss\` of the child sampled every 50 ms during the timed section.
- The machine has ${m.cores} cores shared by Redis, the Node.js process and (for bullrush) its Rust threads.
  Other processes distort that, so before each child the bench waits (up to 3 min) until the rest of the machine
  uses under 0.15 cores, measures from \`/proc/stat\` how much CPU everything else used during each timed section,
  and in a full run repeats a round where that exceeded 0.25 cores (at most twice, keeping the least disturbed).
  8's producer process is part of the benchmark: it reports its CPU over the section, which is not counted as "other".
`;
}

// ---------------------------------------------------------------- svg

function escXml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// Within ±10% of BullMQ counts as parity in the chart: rounds differ by that much.
const PARITY = 0.1;

function niceStep(max) {
  if (max <= 3) return 0.5;
  if (max <= 8) return 1;
  if (max <= 20) return 2;
  return 5;
}

/**
 * One panel of horizontal ratio bars with its own axis and a line at 1×.
 * groups: [{ title, rows: [{ label, sub, value (ratio) | null, failText }] }].
 * Returns the SVG elements and the y below the axis labels.
 */
function ratioPanel(groups, top, { W, left, right, rowH = 40, groupH = 34 }) {
  const values = groups.flatMap((g) => g.rows.map((r) => r.value).filter((v) => typeof v === 'number' && Number.isFinite(v)));
  const maxRatio = Math.max(2, ...values);
  const step = niceStep(maxRatio);
  const axisMax = Math.ceil((maxRatio * 1.08) / step) * step;
  const barArea = W - left - right;
  const x = (v) => left + (v / axisMax) * barArea;
  let y = top;
  const body = [];
  for (const g of groups) {
    body.push(`<text x="16" y="${y + 22}" class="group">${escXml(g.title)}</text>`);
    y += groupH;
    for (const r of g.rows) {
      body.push(`<text x="16" y="${y + 17}" class="label">${escXml(r.label)}</text>`);
      if (r.value === null || r.value === undefined) {
        body.push(`<text x="16" y="${y + 33}" class="sub">${escXml(r.sub)}</text>`);
        body.push(`<text x="${x(0) + 8}" y="${y + 24}" class="fail">${escXml(r.failText)}</text>`);
      } else {
        const q = r.value;
        body.push(`<text x="16" y="${y + 33}" class="sub">${escXml(r.sub)}</text>`);
        const w = Math.max(1, x(q) - x(0));
        const cls = q >= 1 + PARITY ? 'win' : q <= 1 - PARITY ? 'loss' : 'par';
        body.push(`<rect x="${x(0)}" y="${y + 8}" width="${w.toFixed(1)}" height="24" rx="2" class="${cls}"/>`);
        body.push(`<text x="${(x(0) + w + 6).toFixed(1)}" y="${y + 25}" class="value">${escXml(fmtRatio(q))}</text>`);
      }
      y += rowH;
    }
  }
  const bottom = y + 6;
  const grid = [];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const gx = x(v).toFixed(1);
    grid.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${bottom}" class="grid"/>`);
    grid.push(`<text x="${gx}" y="${bottom + 18}" class="tick">${Number(v.toFixed(2))}×</text>`);
  }
  const one = x(1).toFixed(1);
  const parity = [
    `<line x1="${one}" y1="${top - 8}" x2="${one}" y2="${bottom}" class="parity"/>`,
    `<text x="${one}" y="${top - 12}" class="paritylabel">1× = same as BullMQ</text>`,
  ];
  return { elements: [...grid, ...body, ...parity], bottom: bottom + 24 };
}

const kfmt = (v) => (v >= 10000 ? `${(v / 1000).toFixed(0)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));

/**
 * Horizontal bars of the jobs/s ratio (bullrush ÷ bullmq), one per scenario,
 * grouped into "adding jobs" and "processing jobs", with a line at 1×; below,
 * a second panel (own axis) for 8: the listeners' CPU per delivered event,
 * bullmq ÷ bullrush (also "longer is better for bullrush").
 */
function svg(summaries, meta) {
  const W = 900;
  const layout = { W, left: 360, right: 70 };
  const failRow = (s, label) => {
    const which = IMPLS.filter((i) => !s.impls[i].ok).join(' and ');
    return { label, value: null, sub: `failed (${which})`, failText: `FAILED: ${which}` };
  };
  const throughputRow = (s) => {
    const label = `${s.id}. ${s.short || s.label}`;
    if (!ok(s)) return failRow(s, label);
    const m = s.impls.bullmq.jobsPerSec;
    const r = s.impls.bullrush.jobsPerSec;
    return { label, value: r / m, sub: `bullmq ${kfmt(m)} → bullrush ${kfmt(r)} jobs/s` };
  };
  const groups = [
    { title: 'Adding jobs (Queue)', rows: summaries.filter((s) => s.runner && s.runner.startsWith('add')).map(throughputRow) },
    { title: 'Processing jobs (Worker)', rows: summaries.filter((s) => s.runner === 'worker').map(throughputRow) },
  ];
  const fmtEv = (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1));
  const qeRowsChart = summaries
    .filter((s) => s.runner === 'queue-events')
    .map((s) => {
      const label = `${s.id}. ${s.short || s.label}`;
      if (!ok(s) || !s.impls.bullmq.qe || !s.impls.bullrush.qe) return failRow(s, label);
      const [m, r] = IMPLS.map((i) => s.impls[i].qe);
      return {
        label,
        value: m.cpuUsPerEvent / r.cpuUsPerEvent,
        sub: `bullmq ${fmtEv(m.cpuUsPerEvent)} → bullrush ${fmtEv(r.cpuUsPerEvent)} µs/event; ` +
          `${m.connections.qe} → ${r.connections.qe} connection${r.connections.qe === 1 ? '' : 's'}`,
      };
    });

  const first = ratioPanel(groups, 92, layout);
  const parts = [...first.elements];
  let bottom = first.bottom;
  if (qeRowsChart.length) {
    const titleY = bottom + 30;
    parts.push(`<text x="16" y="${titleY}" class="title">QueueEvents fan-out: CPU per delivered event (bullmq ÷ bullrush)</text>`);
    parts.push(
      `<text x="16" y="${titleY + 22}" class="subtitle">CPU of the listeners' process per event per listener, jobs added at a steady 500/s. ` +
        'Longer is better for bullrush.</text>',
    );
    const second = ratioPanel([{ title: 'Listeners on one queue, one process', rows: qeRowsChart }], titleY + 64, layout);
    parts.push(...second.elements);
    bottom = second.bottom;
  }

  const H = bottom + 46;
  const mm = meta.machine;
  const caption =
    `${mm.cores} cores (${mm.cpuModel}), Node ${mm.node}, Redis ${mm.redis}, bullmq ${mm.bullmq}, ` +
    `bullrush ${mm.bullrush}; median of ${meta.rounds} rounds; ${meta.date.slice(0, 10)}.`;

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 19px; font-weight: bold; fill: #222; }
  .subtitle { font-size: 13px; fill: #555; }
  .group { font-size: 14px; font-weight: bold; fill: #333; }
  .label { font-size: 13px; fill: #222; }
  .sub { font-size: 11px; fill: #777; }
  .value { font-size: 13px; font-weight: bold; fill: #222; paint-order: stroke; stroke: #fff; stroke-width: 4px; }
  .fail { font-size: 13px; font-weight: bold; fill: #c62828; }
  .tick { font-size: 11px; fill: #666; text-anchor: middle; }
  .grid { stroke: #e6e6e6; stroke-width: 1; }
  .parity { stroke: #222; stroke-width: 1.5; stroke-dasharray: 5 3; }
  .paritylabel { font-size: 11px; fill: #222; text-anchor: middle; }
  .win { fill: #2e7d32; }
  .loss { fill: #c62828; }
  .par { fill: #9e9e9e; }
  .foot { font-size: 11px; fill: #666; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="28" class="title">bullrush vs BullMQ: throughput ratio (jobs/s, bullrush ÷ bullmq)</text>
<text x="16" y="50" class="subtitle">Longer is better for bullrush. Green: over 10% better than BullMQ; grey: within ±10%; red: over 10% worse.</text>
${parts.join('\n')}
<text x="16" y="${bottom + 18}" class="foot">${escXml(caption)}</text>
<text x="16" y="${bottom + 34}" class="foot">Scenario 7 (latency at a paced 1k jobs/s) and 8's connections and latencies are in RESULTS.md, not in this chart.</text>
</svg>
`;
}

// ---------------------------------------------------------------- embedded engine

const EMBEDDED_HEADER = ['scenario (embedded engine, no Redis)', 'jobs', 'jobs/s', 'CPU µs/job', 'peak RSS MB', 'rounds jobs/s'];

function embeddedRows(embedded) {
  return embedded.map((e) => [
    `${e.id}. ${e.label}`,
    nf0.format(e.params.jobs),
    e.ok ? fmtRate(e.jobsPerSec) : `FAILED: ${e.errors.join(' | ')}`,
    fmtUs(e.cpuUsPerJob),
    fmtMB(e.peakRssMB),
    e.roundJobsPerSec.map(fmtRate).join(' / '),
  ]);
}

function embeddedText(embedded) {
  return `${textTable(EMBEDDED_HEADER, embeddedRows(embedded))}\n`;
}

function embeddedMarkdown(embedded) {
  if (!embedded.length) return '';
  return (
    '\n## Embedded engine\n\n' +
    "bullrush with `connection: 'memory://'`: the queues live in the benchmark's process, so there is no " +
    'bullmq column and no Redis CPU. Same scenarios and checks as above, larger job counts; medians over the rounds.\n\n' +
    `${mdTable(EMBEDDED_HEADER, embeddedRows(embedded))}\n`
  );
}

module.exports = { consoleTables, markdown, svg, embeddedText, embeddedMarkdown };
