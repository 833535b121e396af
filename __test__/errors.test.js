'use strict';
// Errors say what happened: each kind of failure reaches JS as its own class
// and code, so that callers can tell "not written" from "maybe written" from
// "misconfigured". Redis only (scripts/test.js skips errors* on the memory
// pass): every test runs its own redis-server, frozen, password-protected or
// holding bad data as the case needs.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { startServer } = require('./errors-server');

const bullrush = require('..');
const { Queue, RedisUnavailableError, RedisTimeoutError, RedisAuthError, RedisScriptError, RedisDataError } = bullrush;

function describeErr(err) {
  return `${err && err.name} ${err && err.code}: ${err && err.message}`;
}

describe('error kinds', { skip: h.isBullrush() ? h.redisOnly('its own redis-server') : 'bullrush error types' }, () => {
  it('exports a class per kind, outcome-unknown under RedisUnavailableError', () => {
    for (const cls of [RedisTimeoutError, RedisAuthError, RedisScriptError, RedisDataError]) {
      assert.equal(typeof cls, 'function', 'exported');
    }
    const timeout = new RedisTimeoutError('x');
    assert.ok(timeout instanceof RedisUnavailableError, 'instanceof RedisUnavailableError still catches it');
    assert.equal(timeout.code, 'REDIS_OUTCOME_UNKNOWN');
    assert.equal(new RedisUnavailableError('x').code, 'REDIS_UNAVAILABLE');
  });

  it('a command sent to a frozen Redis rejects as outcome unknown, and may have been written', async (t) => {
    const server = await startServer(t);
    const c = h.scope(t);
    const name = h.uniqueQueueName('frozen');
    const queue = c.add(new Queue(name, { connection: server.connection(), commandTimeout: 500 }));
    await queue.add('warm', {}); // the connection is open, so the next add is sent at once
    server.freeze();
    try {
      await assert.rejects(queue.add('maybe', { n: 1 }, { jobId: 'maybe-written' }), (err) => {
        assert.ok(err instanceof RedisTimeoutError, describeErr(err));
        assert.ok(err instanceof RedisUnavailableError, 'existing instanceof checks keep catching it');
        assert.equal(err.code, 'REDIS_OUTCOME_UNKNOWN');
        assert.match(err.message, /did not answer within 500 ms/);
        assert.match(err.message, /may or may not have been applied/);
        return true;
      });
    } finally {
      server.thaw();
    }
    // Redis had the command: it runs it once it resumes.
    const job = await h.waitFor(() => queue.getJob('maybe-written'), 5000, 'the job written after all');
    assert.deepEqual(job.data, { n: 1 });
    // The documented retry: the same jobId again is a no-op, not a second job.
    const again = await queue.add('maybe', { n: 2 }, { jobId: 'maybe-written' });
    assert.equal(again.id, 'maybe-written');
    assert.deepEqual((await queue.getJob('maybe-written')).data, { n: 1 });
    assert.equal(await queue.count(), 2);
  });

  it('a connection that cannot be made rejects as unavailable: nothing was written', async (t) => {
    const server = await startServer(t);
    const c = h.scope(t);
    const name = h.uniqueQueueName('frozen-connect');
    server.freeze(); // before the first connection: its handshake never completes
    const queue = c.add(new Queue(name, { connection: server.connection(), commandTimeout: 500 }));
    try {
      await assert.rejects(queue.add('never', {}, { jobId: 'never-sent' }), (err) => {
        assert.ok(err instanceof RedisUnavailableError, describeErr(err));
        assert.equal(err.code, 'REDIS_UNAVAILABLE');
        assert.ok(!(err instanceof RedisTimeoutError), describeErr(err));
        return true;
      });
    } finally {
      server.thaw();
    }
    await queue.waitUntilReady();
    assert.equal(await queue.getJob('never-sent'), undefined);
  });

  it('with no server on the port, add rejects with REDIS_UNAVAILABLE', async (t) => {
    const port = await h.freePort();
    const c = h.scope(t);
    const queue = c.add(new Queue(h.uniqueQueueName('down'), { connection: { host: '127.0.0.1', port }, commandTimeout: 500 }));
    await assert.rejects(queue.add('x', {}), (err) => {
      assert.ok(err instanceof RedisUnavailableError, describeErr(err));
      assert.ok(!(err instanceof RedisTimeoutError), describeErr(err));
      assert.equal(err.code, 'REDIS_UNAVAILABLE');
      assert.match(err.message, /unreachable/);
      return true;
    });
  });

  it('a server that needs a password and got none rejects with RedisAuthError', async (t) => {
    const server = await startServer(t, ['--requirepass', 'x']);
    const c = h.scope(t);
    const queue = c.add(new Queue(h.uniqueQueueName('noauth'), { connection: server.connection(), commandTimeout: 1000 }));
    const check = (err) => {
      assert.ok(err instanceof RedisAuthError, describeErr(err));
      assert.equal(err.code, 'REDIS_AUTH');
      assert.match(err.message, /requires a password/);
      return true;
    };
    // A script call (Redis drops the connection after refusing it), then a
    // plain command and another script call: each says why, none "broken pipe".
    await assert.rejects(queue.add('x', {}), check);
    await assert.rejects(queue.getJob('1'), check);
    await assert.rejects(queue.add('x', {}), check);
    await assert.rejects(queue.waitUntilReady(), check);
  });

  it('a wrong password rejects with the same RedisAuthError, and never shows the password', async (t) => {
    const server = await startServer(t, ['--requirepass', 'x']);
    const c = h.scope(t);
    const connection = server.connection({ password: 'not-the-secret' });
    const queue = c.add(new Queue(h.uniqueQueueName('wrongpass'), { connection, commandTimeout: 1000 }));
    for (const call of [() => queue.add('x', {}), () => queue.getJob('1')]) {
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof RedisAuthError, describeErr(err));
        assert.equal(err.code, 'REDIS_AUTH');
        assert.match(err.message, /rejected the credentials/);
        assert.doesNotMatch(err.message, /not-the-secret/);
        return true;
      });
    }
    // The right password on the same server works.
    const ok = c.add(new Queue(h.uniqueQueueName('rightpass'), { connection: server.connection({ password: 'x' }) }));
    await ok.add('x', {});
  });

  it('an error Redis raises in a script is a RedisScriptError with its message', async (t) => {
    const server = await startServer(t);
    const c = h.scope(t);
    const name = h.uniqueQueueName('wrongtype');
    const redis = c.add(new (require('ioredis'))({ host: '127.0.0.1', port: server.port }));
    await redis.set(`bull:${name}:wait`, 'not a list');
    const queue = c.add(new Queue(name, { connection: server.connection() }));
    await assert.rejects(queue.add('x', {}), (err) => {
      assert.ok(err instanceof RedisScriptError, describeErr(err));
      assert.ok(!(err instanceof RedisUnavailableError), describeErr(err));
      assert.equal(err.code, 'REDIS_SCRIPT_ERROR');
      assert.match(err.message, /WRONGTYPE/);
      return true;
    });
    // Not an outage: the connection stays usable.
    await queue.waitUntilReady();
    assert.equal(await queue.getDelayedCount(), 0);
  });

  it('a job hash holding bytes that are not UTF-8 is a RedisDataError naming it, not an outage', async (t) => {
    const server = await startServer(t);
    const c = h.scope(t);
    const name = h.uniqueQueueName('utf8');
    const queue = c.add(new Queue(name, { connection: server.connection() }));
    const job = await queue.add('x', { a: 1 });
    const redis = c.add(new (require('ioredis'))({ host: '127.0.0.1', port: server.port }));
    await redis.hset(`bull:${name}:${job.id}`, 'name', Buffer.from([0xff, 0xfe]));
    const check = (err) => {
      assert.ok(err instanceof RedisDataError, describeErr(err));
      assert.ok(!(err instanceof RedisUnavailableError), describeErr(err));
      assert.equal(err.code, 'REDIS_BAD_DATA');
      assert.match(err.message, /not valid UTF-8/);
      assert.ok(err.message.includes(`bull:${name}:${job.id}`), err.message);
      return true;
    };
    await assert.rejects(queue.getJob(job.id), check);
    await assert.rejects(queue.getJobs(['waiting']), check);
    assert.equal(await queue.count(), 1, 'the connection was kept');
  });

  it('TLS to a server that does not speak TLS fails fast and says so', async (t) => {
    const server = await startServer(t);
    const c = h.scope(t);
    const queue = c.add(
      new Queue(h.uniqueQueueName('tls'), { connection: `rediss://127.0.0.1:${server.port}`, commandTimeout: 5000 }),
    );
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await assert.rejects(queue.add('x', {}), (err) => {
        assert.ok(err instanceof RedisUnavailableError, describeErr(err));
        assert.equal(err.code, 'REDIS_UNAVAILABLE');
        assert.match(err.message, /does not speak TLS/);
        return true;
      });
      const took = Date.now() - t0;
      assert.ok(took < 3000, `rejected after ${took} ms, not at the handshake`);
    }
  });
});
