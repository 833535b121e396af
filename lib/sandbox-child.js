'use strict';

// Runs inside a sandbox (child process or worker thread): loads the user's
// processor file and runs the jobs the parent sends, one at a time.

const { parentPort } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');

const send = parentPort ? (m) => parentPort.postMessage(m) : (m) => process.send(m);
const onMessage = parentPort ? (f) => parentPort.on('message', f) : (f) => process.on('message', f);

let processor;

async function load(file) {
  let mod;
  try {
    mod = require(file);
  } catch (err) {
    if (err.code !== 'ERR_REQUIRE_ESM') throw err;
    mod = await import(pathToFileURL(file).href);
  }
  const fn = typeof mod === 'function' ? mod : mod && mod.default;
  if (typeof fn !== 'function') throw new TypeError(`${file} does not export a processor function`);
  return fn;
}

/** The job as the processor sees it: data and fields, progress and log relayed. */
function sandboxJob(record) {
  return {
    ...record,
    async updateProgress(progress) {
      this.progress = progress;
      send({ type: 'progress', value: progress });
    },
    async log(row) {
      send({ type: 'log', row: String(row) });
    },
  };
}

onMessage(async (message) => {
  if (message.type !== 'start') return;
  try {
    processor = processor || (await load(message.file));
    const value = await processor(sandboxJob(message.job), message.job.token);
    send({ type: 'completed', value });
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    send({ type: 'failed', error: { name: error.name, message: error.message, stack: error.stack } });
  }
});
