'use strict';
// `import { X } from 'bullrush'` must work for every export, as it does for
// bullmq: Node only sees CommonJS exports it can detect statically.

const { it } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const h = require('./helpers');

const ROOT = path.resolve(__dirname, '..');

it('every export is a named ESM export', { skip: h.isBullrush() ? false : 'bullrush packaging' }, () => {
  const names = Object.keys(require(ROOT));
  const url = require('node:url').pathToFileURL(path.join(ROOT, 'index.js')).href;
  const script = `import { ${names.join(', ')} } from ${JSON.stringify(url)};
    console.log([${names.join(', ')}].filter((x) => x === undefined).length);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.trim(), '0');
  for (const name of ['Queue', 'Worker', 'Job', 'QueueEvents', 'UnrecoverableError', 'RedisUnavailableError', 'sseResponse', 'health']) {
    assert.ok(names.includes(name), name);
  }
});
