'use strict';

// Turns every connection form BullMQ accepts into one redis:// URL, which the
// Rust side uses as the key of its shared, process-wide connection; or into
// memory:// for the embedded engine.

const DEFAULT_COMMAND_TIMEOUT_MS = 5000;
const MEMORY_URL = 'memory://';

let warnedMemory = false;
function warnMemoryOnce() {
  if (warnedMemory) return;
  warnedMemory = true;
  process.emitWarning(
    'no connection given and REDIS_URL is not set: bullrush runs its queues in this process ' +
      "(jobs live in this process only and are lost when it exits). Pass connection: 'memory://' " +
      'to choose this explicitly, or a Redis connection / REDIS_URL to share queues between processes.',
    { code: 'BULLRUSH_EMBEDDED' },
  );
}

function isIORedisLike(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.options === 'object' &&
    (typeof value.duplicate === 'function' || typeof value.status === 'string')
  );
}

function formatHost(host) {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function urlFromOptions(o) {
  if (o.path) {
    throw new TypeError('connection.path (unix sockets) is not supported yet: use host and port');
  }
  const host = o.host || '127.0.0.1';
  const port = o.port === undefined ? 6379 : Number(o.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new TypeError(`connection.port must be an integer between 1 and 65535, got ${o.port}`);
  }
  const db = o.db === undefined ? 0 : Number(o.db);
  if (!Number.isInteger(db) || db < 0) {
    throw new TypeError(`connection.db must be a non-negative integer, got ${o.db}`);
  }
  const user = o.username ? encodeURIComponent(o.username) : '';
  const pass = o.password ? `:${encodeURIComponent(o.password)}` : '';
  const auth = user || pass ? `${user}${pass}@` : '';
  const scheme = o.tls ? 'rediss' : 'redis';
  const insecure = o.tls && o.tls.rejectUnauthorized === false ? '#insecure' : '';
  return `${scheme}://${auth}${formatHost(host)}:${port}/${db}${insecure}`;
}

/**
 * Resolves `opts.connection` (BullMQ options object, URL string or ioredis
 * instance) or REDIS_URL into `{ url, commandTimeout }`.
 */
function resolveConnection(opts = {}) {
  let connection = opts.connection;
  if (connection === undefined || connection === null) {
    connection = process.env.REDIS_URL;
    if (!connection) {
      warnMemoryOnce();
      connection = MEMORY_URL;
    }
  }
  let url;
  if (typeof connection === 'string') {
    if (connection === MEMORY_URL) {
      url = MEMORY_URL;
    } else if (!/^rediss?:\/\//.test(connection)) {
      throw new TypeError(
        `connection must be a redis:// or rediss:// URL, '${MEMORY_URL}', an options object or an ioredis instance (got '${connection}')`,
      );
    } else {
      url = connection;
    }
  } else if (typeof connection === 'object' && typeof connection.url === 'string') {
    url = resolveConnection({ connection: connection.url }).url;
  } else if (isIORedisLike(connection)) {
    url = urlFromOptions(connection.options);
  } else if (typeof connection === 'object') {
    url = urlFromOptions(connection);
  } else {
    throw new TypeError(`connection must be an object or a URL string, got ${typeof connection}`);
  }
  const commandTimeout =
    opts.commandTimeout === undefined ? DEFAULT_COMMAND_TIMEOUT_MS : Number(opts.commandTimeout);
  if (!Number.isFinite(commandTimeout) || commandTimeout <= 0) {
    throw new TypeError(`commandTimeout must be a positive number of milliseconds, got ${opts.commandTimeout}`);
  }
  return { url, commandTimeout: Math.ceil(commandTimeout) };
}

module.exports = { resolveConnection, MEMORY_URL };
