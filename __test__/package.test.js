'use strict';
// `npm pack` yields a tarball that installs into an empty app and works there:
// no build step, no install script, the prebuilt addon inside.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const ROOT = path.resolve(__dirname, '..');
const skip = process.env.BULLRUSH_TEST_IMPL ? 'packages bullrush itself' : false;

describe('npm pack', { skip }, () => {
  let dir;
  let tarball;
  let files;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-pack-'));
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out);
    tarball = path.join(dir, info.filename);
    files = info.files.map((f) => f.path);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ships the prebuilt addon and the JS surface, not the sources', () => {
    assert.ok(files.includes('index.js') && files.includes('index.d.ts'), files.join(', '));
    assert.ok(files.some((f) => /^bullrush\..*\.node$/.test(f)), 'a prebuilt .node file');
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('target/')), 'no Rust sources');
    assert.ok(!JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.install, 'no install script');
  });

  it('installs into an empty app and processes a job there', () => {
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball], {
      cwd: app,
      stdio: 'pipe',
    });
    const script = `
      const { Queue, Worker } = require('bullrush');
      const connection = process.env.TEST_REDIS_URL;
      const name = ${JSON.stringify(h.uniqueQueueName('pack'))};
      (async () => {
        const queue = new Queue(name, { connection });
        const worker = new Worker(name, async (job) => job.data.n * 2, { connection });
        const done = new Promise((resolve) => worker.on('completed', (job, r) => resolve(r)));
        await queue.add('double', { n: 21 });
        console.log('result=' + (await done));
        await worker.close();
        await queue.obliterate({ force: true });
        await queue.close();
      })();`;
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: app,
      encoding: 'utf8',
      timeout: 20000,
      env: { ...process.env },
    });
    assert.match(out, /result=42/);
  });
});
