'use strict';

// A private, throw-away redis-server for the benchmark, and a tiny RESP client
// for the few commands the orchestrator needs (PING, INFO, FLUSHALL). No
// dependencies; never uses port 6379.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REDIS_BIN = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';

/** Parses one RESP reply at `pos`: [value, nextPos], or null if incomplete. */
function parseReply(buf, pos) {
  if (pos >= buf.length) return null;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = buf[pos];
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new Error(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: { // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) return null;
      return [buf.toString('utf8', next, next + len), next + len + 2];
    }
    case 0x2a: { // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const out = [];
      let p = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, p);
        if (!item) return null;
        out.push(item[0]);
        p = item[1];
      }
      return [out, p];
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${type.toString(16)}`);
  }
}

class MiniRedis {
  constructor(port) {
    this.port = port;
    this.pending = [];
    this.buffer = Buffer.alloc(0);
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.socket = net.connect(this.port, '127.0.0.1', resolve);
      this.socket.once('error', reject);
      this.socket.on('data', (chunk) => this.onData(chunk));
      this.socket.on('close', () => {
        for (const p of this.pending.splice(0)) p.reject(new Error('connection closed'));
      });
    });
  }

  onData(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const reply = parseReply(this.buffer, pos);
      if (!reply) break;
      pos = reply[1];
      const p = this.pending.shift();
      if (reply[0] instanceof Error) p.reject(reply[0]);
      else p.resolve(reply[0]);
    }
    this.buffer = this.buffer.subarray(pos);
  }

  command(...args) {
    let text = `*${args.length}\r\n`;
    for (const a of args) {
      const s = String(a);
      text += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(text);
    });
  }

  /** INFO <section> as { field: value }. */
  async info(section) {
    const text = await this.command('INFO', section);
    const out = {};
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  /** Redis' own CPU (all its threads, user+sys) in microseconds. */
  async cpuUs() {
    const cpu = await this.info('cpu');
    return Math.round((Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)) * 1e6);
  }

  close() {
    if (this.socket) this.socket.destroy();
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts redis-server on a free port in a temp dir, without persistence.
 * Returns { port, client, version, shutdown(), stop() }: shutdown() is the
 * normal async stop; stop() is synchronous and idempotent for 'exit' and
 * signal handlers.
 */
async function startRedis() {
  let port;
  do port = await freePort(); while (port === 6379);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-bench-'));
  const proc = spawn(
    REDIS_BIN,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')],
    { stdio: 'ignore' },
  );
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const client = new MiniRedis(port);
  let stopped = false;
  const removeDir = () => {
    // redis-server reopens its log file for every line, so a dying server can
    // recreate it right after we delete it: retry briefly.
    for (let i = 0; i < 10; i++) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        if (!fs.existsSync(dir)) return;
      } catch {
        // retry
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  };
  /** Synchronous, for 'exit' and signal handlers: SIGKILL (no shutdown logging), remove the dir. */
  const stop = () => {
    if (stopped) return;
    stopped = true;
    client.close();
    if (!exited) proc.kill('SIGKILL');
    removeDir();
  };
  /** The normal way: SIGTERM, wait for the server to exit, then remove the dir. */
  const shutdown = async () => {
    if (stopped) return;
    client.close();
    if (!exited) {
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    stop();
  };
  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited) {
      let log = '';
      try {
        log = fs.readFileSync(path.join(dir, 'redis.log'), 'utf8');
      } catch {
        // no log
      }
      stop();
      throw new Error(`redis-server exited at startup:\n${log}`);
    }
    try {
      await client.connect();
      await client.command('PING');
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        stop();
        throw new Error(`redis-server did not answer on port ${port}: ${err.message}`);
      }
      await sleep(50);
    }
  }
  const { redis_version: version } = await client.info('server');
  return { port, client, version, proc, stop, shutdown };
}

module.exports = { startRedis, MiniRedis };
