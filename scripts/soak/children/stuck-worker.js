'use strict';

// A Worker in its own process whose processor never finishes, for the crash
// scenarios: `node stuck-worker.js <redis url> <queue> <hang|spin> <worker options JSON>`.
//  hang: awaits forever (the process is then SIGKILLed mid-job);
//  spin: runs `for(;;){}`, wedging this JS thread for good while the Rust
//        side stays alive (only eventLoopBlockLimit lets its locks go).
// Tells the parent 'ready' and then { active: id } before it gets stuck.

const { Worker } = require('../../..');

const [url, name, mode, optsText] = process.argv.slice(2);
// Without the parent nobody would ever kill us: leave with it.
process.on('disconnect', () => process.exit(0));

const worker = new Worker(name, async (job) => {
  process.send({ active: job.id });
  if (mode === 'spin') {
    // Give the IPC message a moment to leave before the loop never yields again.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (;;) {
      /* wedged */
    }
  }
  await new Promise(() => {});
}, { connection: url, ...JSON.parse(optsText) });
worker.on('error', () => {}); // the locks lost after a stall are expected here
worker.waitUntilReady().then(() => process.send({ ready: true }));
