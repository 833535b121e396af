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
  return summaries.map((s) => {
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
    .filter((s) => ok(s) && s.runner !== 'latency')
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
    .filter((s) => !s.notYet && s.runner !== 'latency')
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
    'Cores kept busy (CPU/job × jobs/s; the machine has ' + meta.machine.cores + '):',
    textTable(UTIL_HEADER, utilRows(summaries)),
  ];
  const lat = latencyRows(summaries);
  if (lat.length) parts.push('Latency at a steady 1k jobs/s (Worker in the adding process):', textTable(LAT_HEADER, lat));
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
${lat.length ? `\n### 7. Latency at a steady 1k jobs/s\n\n${mdTable(LAT_HEADER, lat)}\n` : ''}
### jobs/s of every round

Rounds ran in this order: bullmq 1, bullrush 1, bullmq 2, bullrush 2. The spread between rounds of the same
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
8. QueueEvents fan-out: not yet run, bullrush has no QueueEvents yet. Latency in 7 is therefore measured through the
   Worker in the adding process, not through QueueEvents.

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
 * Horizontal bars of the jobs/s ratio (bullrush ÷ bullmq), one per scenario,
 * grouped into "adding jobs" and "processing jobs", with a line at 1×.
 */
function svg(summaries, meta) {
  const groups = [
    { title: 'Adding jobs (Queue)', rows: summaries.filter((s) => s.runner && s.runner.startsWith('add')) },
    { title: 'Processing jobs (Worker)', rows: summaries.filter((s) => s.runner === 'worker') },
  ];
  const ratios = groups.flatMap((g) => g.rows.filter(ok).map((s) => ratio(s.impls.bullrush.jobsPerSec, s.impls.bullmq.jobsPerSec)));
  const maxRatio = Math.max(2, ...ratios);
  const step = niceStep(maxRatio);
  const axisMax = Math.ceil((maxRatio * 1.08) / step) * step;

  const W = 900;
  const left = 360;
  const right = 70;
  const barArea = W - left - right;
  const x = (v) => left + (v / axisMax) * barArea;
  const rowH = 40;
  const groupH = 34;
  const top = 92;
  let y = top;
  const body = [];

  for (const g of groups) {
    body.push(`<text x="16" y="${y + 22}" class="group">${escXml(g.title)}</text>`);
    y += groupH;
    for (const s of g.rows) {
      const label = `${s.id}. ${s.short || s.label}`;
      body.push(`<text x="16" y="${y + 17}" class="label">${escXml(label)}</text>`);
      if (!ok(s)) {
        const which = IMPLS.filter((i) => !s.impls[i].ok).join(' and ');
        body.push(`<text x="16" y="${y + 33}" class="sub">failed (${escXml(which)})</text>`);
        body.push(`<text x="${x(0) + 8}" y="${y + 24}" class="fail">FAILED: ${escXml(which)}</text>`);
      } else {
        const m = s.impls.bullmq.jobsPerSec;
        const r = s.impls.bullrush.jobsPerSec;
        const q = r / m;
        const kfmt = (v) => (v >= 10000 ? `${(v / 1000).toFixed(0)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));
        body.push(`<text x="16" y="${y + 33}" class="sub">bullmq ${kfmt(m)} → bullrush ${kfmt(r)} jobs/s</text>`);
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
  const H = bottom + 70;
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
<text x="16" y="50" class="subtitle">Longer is better for bullrush. Green: over 10% faster than BullMQ; grey: within ±10%; red: over 10% slower.</text>
${grid.join('\n')}
${body.join('\n')}
${parity.join('\n')}
<text x="16" y="${bottom + 42}" class="foot">${escXml(caption)}</text>
<text x="16" y="${bottom + 58}" class="foot">Scenario 7 (latency at a paced 1k jobs/s) and 8 (QueueEvents, not implemented yet) are in RESULTS.md, not in this chart.</text>
</svg>
`;
}

module.exports = { consoleTables, markdown, svg };
