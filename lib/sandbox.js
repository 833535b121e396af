'use strict';

// Sandboxed processors: a processor given as a file runs in a child process
// (or a worker thread), so that a crash or a blocked event loop there fails
// the attempt, not the Worker. Sandboxes are reused between jobs.

const path = require('node:path');
const { fork } = require('node:child_process');
const { Worker: Thread } = require('node:worker_threads');
const { fileURLToPath } = require('node:url');

const CHILD = path.join(__dirname, 'sandbox-child.js');

function resolveFile(processor) {
  if (processor instanceof URL) return fileURLToPath(processor);
  if (processor.startsWith('file:')) return fileURLToPath(processor);
  return path.resolve(processor);
}

/** One sandbox: a child process or a thread, with the same message protocol. */
function spawnSandbox(useThreads) {
  const handle = useThreads ? new Thread(CHILD) : fork(CHILD, [], { stdio: 'inherit' });
  return {
    handle,
    send: (m) => handle.postMessage ? handle.postMessage(m) : handle.send(m),
    kill: () => (useThreads ? handle.terminate() : handle.kill('SIGKILL')),
  };
}

/** A processor function that runs `processor` (a file path or URL) in sandboxes. */
function sandboxedProcessor(processor, { useWorkerThreads = false } = {}) {
  const file = resolveFile(processor);
  const idle = [];
  const all = new Set();

  const run = (job, token) =>
    new Promise((resolve, reject) => {
      const sandbox = idle.pop() || spawnSandbox(useWorkerThreads);
      all.add(sandbox);
      const { handle } = sandbox;
      const done = (reuse) => {
        handle.removeListener('message', onMessage);
        handle.removeListener('exit', onExit);
        if (reuse) idle.push(sandbox);
        else all.delete(sandbox);
      };
      // Progress and log calls are stored in the order the sandbox made
      // them, and before its result: the job's 'progress' comes before its
      // 'completed', as when the processor runs in this process.
      let stored = Promise.resolve();
      const inOrder = (fn) => {
        stored = stored.then(fn).catch(() => {});
      };
      const onMessage = (m) => {
        if (m.type === 'progress') inOrder(() => job.updateProgress(m.value));
        else if (m.type === 'log') inOrder(() => job.log(m.row));
        else if (m.type === 'completed') {
          done(true);
          inOrder(() => resolve(m.value));
        } else if (m.type === 'failed') {
          done(true);
          const err = new Error(m.error.message);
          err.name = m.error.name;
          err.stack = m.error.stack;
          inOrder(() => reject(err));
        }
      };
      const onExit = (code) => {
        done(false);
        reject(new Error(`sandboxed processor ${file} exited with code ${code} before finishing job ${job.id}`));
      };
      handle.on('message', onMessage);
      handle.on('exit', onExit);
      const record = JSON.parse(JSON.stringify(job));
      record.token = token;
      sandbox.send({ type: 'start', file, job: record });
    });

  run.close = () => {
    for (const sandbox of all) sandbox.kill();
    all.clear();
    idle.length = 0;
  };
  return run;
}

module.exports = { sandboxedProcessor };
