// The TypeScript client (clients/typescript) in a real browser (Debian's chromium): a page on its own origin imports the
// client's ES modules as they are in the repository, with no build step, and calls the service across origins (the
// service allows the page's origin: Access__CorsOrigins). It submits a job, follows its events to the end over SSE read
// from fetch with the key in an Authorization header, and reads the status twice (the second a 304: the ETag crosses
// origins). Nothing it loads or calls leaves 127.0.0.1. Run by TypeScriptClientTests (tests/Client.Tests), which starts
// the service with that origin allowed:
//   BASE_URL=http://127.0.0.1:5000 API_KEY=esk_... PAGE_PORT=5001 tests/browser/run typescript-client.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { launch, localOnlyContext, pageErrors } from './browser.mjs';

const base = new URL(process.env.BASE_URL ?? assert.fail('BASE_URL: the service to test, e.g. http://127.0.0.1:5000'));
const key = process.env.API_KEY ?? assert.fail('API_KEY: a key of the client role');
const pagePort = Number(process.env.PAGE_PORT ?? assert.fail('PAGE_PORT: the port of the page, an origin the service allows (Access__CorsOrigins__0=http://127.0.0.1:PAGE_PORT)'));
const clientSource = new URL('../../clients/typescript/src/', import.meta.url);
const patience = 120_000;

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>jobs client</title>
<script type="module">
  import { JobsClient } from '/client/index.js';
  window.followAJob = async (baseUrl, apiKey) => {
    const client = new JobsClient({ baseUrl, apiKey });
    const job = await client.submit('transcode', { fileId: 'from-the-browser', steps: 3, stepMs: 200 });
    const events = [];
    for await (const e of job.watch())
      events.push({ name: e.name, sequence: e.sequence, status: e.status, progress: e.progress });
    const first = await job.status();
    const second = await job.status();
    return { id: job.id, replayed: job.accepted.replayed, events, status: second.status, same: JSON.stringify(first) === JSON.stringify(second), result: await job.result() };
  };
  window.ready = true;
</script></head><body>jobs client</body></html>`;

/** The page, and the client's files as they are in the repository. */
function serve() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path === '/')
      return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    const file = path.match(/^\/client\/([\w.-]+\.js)$/)?.[1];
    if (!file)
      return res.writeHead(404).end();
    try {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(await readFile(new URL(file, clientSource)));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(pagePort, '127.0.0.1', () => resolve(server)));
}

test('in chromium the client submits a job across origins, follows its events in order to the end, and stays on 127.0.0.1', { timeout: 280_000 }, async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const browser = await launch();
  t.after(() => browser.close());
  const { context, elsewhere } = await localOnlyContext(browser);
  const tab = await context.newPage();
  tab.setDefaultTimeout(patience);
  const errors = pageErrors(tab);
  const requests = [];
  tab.on('response', (r) => requests.push({ method: r.request().method(), url: r.url(), status: r.status(), headers: r.request().headers() }));

  await tab.goto(`http://127.0.0.1:${pagePort}/`);
  await tab.waitForFunction(() => window.ready === true);
  const outcome = await tab.evaluate(([b, k]) => window.followAJob(b, k), [base.href, key]);

  assert.deepEqual(outcome.events.map((e) => e.name), ['queued', 'processing', 'progress', 'progress', 'progress', 'completed']);
  assert.ok(outcome.events.every((e, i) => i === 0 || e.sequence > outcome.events[i - 1].sequence), 'in order, none twice');
  assert.equal(outcome.events.at(-1).progress, 100);
  assert.equal(outcome.status, 'completed');
  assert.equal(outcome.same, true);
  assert.equal(outcome.replayed, false);
  assert.equal(outcome.result.output, 'from-the-browser.mp4');

  const toService = requests.filter((r) => r.url.startsWith(base.origin));
  const stream = toService.find((r) => r.url.endsWith(`/jobs/${outcome.id}/events`) && r.method === 'GET');
  assert.ok(stream, `the page read the stream: ${toService.map((r) => `${r.method} ${r.url} ${r.status}`).join(', ')}`);
  assert.equal(stream.headers.authorization, `Bearer ${key}`, 'the key in a header, not in the URL');
  const reads = toService.filter((r) => r.url.endsWith(`/jobs/${outcome.id}`) && r.method === 'GET').map((r) => r.status);
  assert.deepEqual(reads, [200, 304], 'the second status read sent the ETag it was given across origins');
  assert.deepEqual(elsewhere, [], 'requests that would have left 127.0.0.1');
  assert.deepEqual(errors, [], 'errors in the page');
});
