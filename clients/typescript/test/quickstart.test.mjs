// The quick start of docs/clients/typescript.md as a reader runs it: the package installed from the repository with npm
// (offline: a local folder is linked, nothing is downloaded), the page's one js block saved as quickstart.mjs, and
// `node quickstart.mjs` with the key in KEY, against the real service (BASE_URL). Only the address is changed, to the
// test server's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const base = process.env.BASE_URL ?? assert.fail('BASE_URL: the service to test, e.g. http://127.0.0.1:5000');
const key = process.env.API_KEY ?? assert.fail('API_KEY: a key of the client role');
const pagePath = new URL('../../../docs/clients/typescript.md', import.meta.url);
const packageDirectory = fileURLToPath(new URL('..', import.meta.url));

test('the quick start runs as written and follows a job to its result', { timeout: 120_000 }, async (t) => {
  const markdown = await readFile(pagePath, 'utf8');
  const section = markdown.split('\n## ').find((s) => s.startsWith('Quick start\n')) ?? assert.fail('docs/clients/typescript.md has no "## Quick start"');
  const blocks = [...section.matchAll(/^```js\n(.*?)^```$/gms)].map((m) => m[1]);
  assert.equal(blocks.length, 1, 'one js block in the quick start');
  const code = blocks[0].replaceAll('http://127.0.0.1:5000', base.replace(/\/$/, ''));

  const app = await mkdtemp(join(tmpdir(), 'jobs-client-quickstart-'));
  t.after(() => rm(app, { recursive: true, force: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', packageDirectory], { cwd: app });
  await writeFile(join(app, 'quickstart.mjs'), code);
  const { stdout } = await run('node', ['quickstart.mjs'], { cwd: app, env: { ...process.env, KEY: key }, timeout: 100_000 });

  assert.match(stdout, /^queued 0%$/m);
  assert.match(stdout, /^processing 0%$/m);
  assert.equal(stdout.match(/^progress \d+%$/gm)?.length, 5, stdout);
  assert.match(stdout, /^completed 100%$/m);
  assert.match(stdout, /movie-1\.mp4/);
});
