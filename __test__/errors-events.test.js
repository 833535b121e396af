'use strict';
// QueueEvents on one server with different ACL users: each reads the stream
// with its own credentials. A reader shared across users would hand one
// user's events to another who may not read them. Redis only.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const IORedis = require('ioredis');
const h = require('./helpers');
const { startServer } = require('./errors-server');

const { Queue, QueueEvents, RedisAuthError } = require('..');

async function serverWithUsers(t, c) {
  const server = await startServer(t);
  const admin = c.add(new IORedis({ host: '127.0.0.1', port: server.port }));
  await admin.call('ACL', 'SETUSER', 'alice', 'on', '>alice-pw', '~*', '&*', '+@all');
  await admin.call('ACL', 'SETUSER', 'carol', 'on', '>carol-pw', '~*', '&*', '+@all');
  // bob may run every command, but on no key of any queue.
  await admin.call('ACL', 'SETUSER', 'bob', 'on', '>bob-pw', '~other:*', '&*', '+@all');
  const as = (user) => server.connection({ username: user, password: `${user}-pw` });
  return { server, admin, as };
}

function record(qe) {
  const seen = { events: [], errors: [] };
  qe.on('waiting', ({ jobId }) => seen.events.push(jobId));
  qe.on('error', (err) => seen.errors.push(err));
  return seen;
}

describe('events reader per user', { skip: h.isBullrush() ? h.redisOnly('ACL users') : 'bullrush internals' }, () => {
  it("a user who may not read the stream gets NOPERM, never another user's events", async (t) => {
    const c = h.scope(t);
    const { as } = await serverWithUsers(t, c);
    const name = h.uniqueQueueName('acl');
    // alice's reader first: a shared reader would be hers, with her rights.
    const alice = c.add(new QueueEvents(name, { connection: as('alice') }));
    await alice.waitUntilReady();
    // Its own commandTimeout bounds how long its waitUntilReady waits for a reader that cannot start.
    const bob = c.add(new QueueEvents(name, { connection: as('bob'), commandTimeout: 1000 }));
    const aliceSeen = record(alice);
    const bobSeen = record(bob);
    await bob.waitUntilReady(); // bob listens from here on, whichever reader he got

    const queue = c.add(new Queue(name, { connection: as('alice') }));
    const job = await queue.add('private', { secret: 1 });
    await h.waitFor(() => aliceSeen.events.includes(job.id), 5000, "alice's event");
    // Had bob shared alice's reader, her event would have reached him in the same batch.
    await h.delay(300);
    assert.deepEqual(bobSeen.events, [], "bob received alice's events");
    await h.waitFor(() => bobSeen.errors.length > 0, 5000, "bob's permission error");
    assert.ok(bobSeen.errors[0] instanceof RedisAuthError, `${bobSeen.errors[0].name}: ${bobSeen.errors[0].message}`);
    assert.equal(bobSeen.errors[0].code, 'REDIS_AUTH');
    assert.match(bobSeen.errors[0].message, /NOPERM/);
    assert.deepEqual(aliceSeen.errors, []);
  });

  it('the refused user opening first does not blind the next one', async (t) => {
    const c = h.scope(t);
    const { as } = await serverWithUsers(t, c);
    const name = h.uniqueQueueName('acl-order');
    const bob = c.add(new QueueEvents(name, { connection: as('bob'), commandTimeout: 1000 }));
    const bobSeen = record(bob);
    await h.waitFor(() => bobSeen.errors.length > 0, 5000, "bob's permission error");
    const alice = c.add(new QueueEvents(name, { connection: as('alice') }));
    const aliceSeen = record(alice);
    await alice.waitUntilReady();
    const queue = c.add(new Queue(name, { connection: as('alice') }));
    const job = await queue.add('x', {});
    await h.waitFor(() => aliceSeen.events.includes(job.id), 5000, "alice's event");
    assert.deepEqual(aliceSeen.errors, []);
    assert.deepEqual(bobSeen.events, []);
  });

  it('two users each read their own events, each with their own connection', async (t) => {
    const c = h.scope(t);
    const { admin, as } = await serverWithUsers(t, c);
    const name = h.uniqueQueueName('acl-both');
    const alice = c.add(new QueueEvents(name, { connection: as('alice') }));
    const carol = c.add(new QueueEvents(name, { connection: as('carol') }));
    const aliceSeen = record(alice);
    const carolSeen = record(carol);
    await Promise.all([alice.waitUntilReady(), carol.waitUntilReady()]);
    const queue = c.add(new Queue(name, { connection: as('carol') }));
    const job = await queue.add('x', {});
    await h.waitFor(() => aliceSeen.events.includes(job.id), 5000, "alice's event");
    await h.waitFor(() => carolSeen.events.includes(job.id), 5000, "carol's event");
    const readers = String(await admin.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => / name=\S*:qe /.test(line))
      .map((line) => / user=(\S+)/.exec(line)[1])
      .sort();
    assert.deepEqual(readers, ['alice', 'carol']);
    assert.deepEqual([...aliceSeen.errors, ...carolSeen.errors], []);
  });
});
