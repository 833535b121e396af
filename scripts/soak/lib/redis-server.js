'use strict';

// A private redis-server for one scenario, and the faults we inflict on it:
// SHUTDOWN NOSAVE, SIGKILL, SIGSTOP/SIGCONT, each followed by a restart on the
// same port and directory (so that an AOF, when enabled, is read back).
// Never port 6379: that is somebody else's server.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const IORedis = require('ioredis');
const { findOnPath, freePort, ping } = require('../../local-tools');
const { track, waitFor, killChild, within } = require('./util');

const BIN = findOnPath('redis-server');

class RedisServer {
  /** Starts a server; `aof` makes every acknowledged write durable (appendfsync always). */
  static async start({ aof = false } = {}) {
    if (!BIN) throw new Error('redis-server is not on the PATH (apt-get install redis-server)');
    const root = process.env.SOAK_TMP || os.tmpdir();
    const dir = fs.mkdtempSync(path.join(root, 'redis-'));
    const server = new RedisServer(await freePort(), dir, aof);
    await server.boot();
    return server;
  }

  constructor(port, dir, aof) {
    this.port = port;
    this.dir = dir;
    this.aof = aof;
    this.child = null;
    this.connection = { host: '127.0.0.1', port };
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts redis-server and waits until it answers PING (up to 10 s: an AOF may take a moment to load). */
  async boot() {
    const persistence = this.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence,
      '--dir', this.dir, '--logfile', path.join(this.dir, 'redis.log')];
    this.child = track(spawn(BIN, args, { stdio: 'ignore' }));
    const up = await waitFor(() => ping(this.port), 10000, 25);
    if (!up) throw new Error(`redis-server on port ${this.port} did not answer within 10 s (see ${this.dir}/redis.log)`);
  }

  get running() {
    return this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Commands (arrays of arguments) pipelined on a short-lived ioredis client that never retries; their replies. */
  async pipeline(commands) {
    const client = new IORedis({ ...this.connection, lazyConnect: true, maxRetriesPerRequest: 0,
      enableOfflineQueue: false, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await within(client.connect(), 3000, `connect to redis ${this.port}`);
      const replies = await within(client.pipeline(commands.map(([cmd, ...args]) => ['call', cmd, ...args])).exec(),
        5000 + commands.length, `redis ${commands[0][0]}…`);
      return replies.map(([err, reply]) => {
        if (err) throw err;
        return reply;
      });
    } finally {
      client.disconnect();
    }
  }

  /** One command; its reply. */
  async command(...args) {
    return (await this.pipeline([args]))[0];
  }

  /** INFO <section> as an object of strings. */
  async info(section) {
    const text = await this.command('INFO', section);
    const out = {};
    for (const line of String(text).split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  /** Clients connected, not counting the one asking. */
  async clients() {
    return Number((await this.info('clients')).connected_clients) - 1;
  }

  /** SHUTDOWN NOSAVE: a clean exit that writes no RDB (the AOF, if any, is already fsynced). */
  async shutdownNosave() {
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    await this.command('SHUTDOWN', 'NOSAVE').catch(() => {}); // the server hangs up instead of answering
    await within(gone, 10000, 'redis SHUTDOWN NOSAVE');
  }

  /** kill -9: no chance to write or say goodbye. */
  async kill() {
    await killChild(this.child, 'SIGKILL');
  }

  /** Freezes the server: connections stay open, nothing answers. */
  freeze() {
    this.child.kill('SIGSTOP');
  }

  thaw() {
    this.child.kill('SIGCONT');
  }

  /** Stops the server (thawing it first, in case a fault left it frozen) and removes its files. */
  async close() {
    if (this.running) {
      this.child.kill('SIGCONT');
      await killChild(this.child, 'SIGKILL');
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { RedisServer };
