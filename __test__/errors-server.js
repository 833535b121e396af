'use strict';
// A redis-server of the test's own for the errors*.test.js files: they need
// servers that the shared test server must not become (password-protected,
// frozen with SIGSTOP, given ACL users, restarted). Each is stopped when its
// test ends.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('../scripts/local-tools');

const started = new Set();
// A test process that dies must not leave servers behind.
process.on('exit', () => {
  for (const child of started) {
    try {
      child.kill('SIGKILL');
    } catch (_) {
      /* gone */
    }
  }
});

/** True once something on `port` answers a RESP reply: '+PONG', or '-NOAUTH' from a server with a password. */
function answers(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d[0] === 0x2b || d[0] === 0x2d));
  });
}

async function spawnOn(port, dir, args) {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: 'ignore' },
  );
  started.add(child);
  const deadline = Date.now() + 10000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function kill(child) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }
  started.delete(child);
}

/**
 * Starts redis-server on a free port of 127.0.0.1 with `args` added, and
 * stops it (SIGCONT first, in case the test froze it) when `t` ends.
 */
async function startServer(t, args = []) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-errors-'));
  const server = {
    port,
    child: null,
    connection: (extra = {}) => ({ host: '127.0.0.1', port, ...extra }),
    freeze: () => server.child.kill('SIGSTOP'),
    thaw: () => server.child.kill('SIGCONT'),
    stop: () => kill(server.child),
    /** A new, empty server on the same port, after the old one is gone. */
    restart: async () => {
      await kill(server.child);
      server.child = await spawnOn(port, dir, args);
    },
  };
  t.after(async () => {
    if (server.child) await kill(server.child);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  server.child = await spawnOn(port, dir, args);
  return server;
}

module.exports = { startServer };
