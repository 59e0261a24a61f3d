// The reference page at /reference, as a user meets it in a real browser (Debian's chromium): it lists every operation of the
// served OpenAPI document, nothing it loads comes from anywhere but the service, nothing fails in its console, and a key
// pasted into its auth field tries a call. Run by ReferencePageBrowserTests (tests/Api.Tests), which starts the service:
//   BASE_URL=http://127.0.0.1:5000 API_KEY=esk_... tests/browser/run reference-page.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, localOnlyContext, pageErrors } from './browser.mjs';

const base = new URL(process.env.BASE_URL ?? assert.fail('BASE_URL: the service to test, e.g. http://127.0.0.1:5000'));
const key = process.env.API_KEY ?? assert.fail('API_KEY: a key of the client role');
// Every wait is bounded: a page that never shows what it should fails the test instead of hanging it. The bound is as
// generous as the .NET tests' (Patience.Bound, 2 min): on a busy machine Scalar's 5 MB script takes long to come alive.
const patience = 120_000;

test('the reference page lists every operation, stays on 127.0.0.1, logs no error, and tries a call with a pasted key', { timeout: 280_000 }, async (t) => {
  const document = await (await fetch(new URL('/openapi/v1.json', base))).json();
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    ['get', 'put', 'post', 'delete', 'patch'].filter((method) => item[method]).map((method) => ({ method: method.toUpperCase(), path, summary: item[method].summary })));
  assert.ok(operations.length > 20, `the document lists ${operations.length} operations`);
  assert.ok(operations.every((o) => o.summary), 'every operation has a summary to find it by');

  // A job of this key's tenant, so that the page's call has something of the user's to show.
  const submitted = await fetch(new URL('/jobs', base), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': 'reference-page' },
    body: JSON.stringify({ type: 'transcode', input: { fileId: 'from-the-reference-page' } }),
  });
  const accepted = await submitted.text();
  assert.equal(submitted.status, 202, accepted);
  const { jobId } = JSON.parse(accepted);

  const browser = await launch();
  t.after(() => browser.close());
  const requests = [];
  const { context, elsewhere } = await localOnlyContext(browser, (request, url) => requests.push(`${request.method()} ${url.href}`));
  // A Content-Security-Policy violation is a console error in Chromium; the event is recorded too, in case it is not.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
      `${e.effectiveDirective} refused ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`));
  });
  const page = await context.newPage();
  page.setDefaultTimeout(patience);
  const errors = pageErrors(page);

  const answer = await page.goto(new URL('/reference/', base).href);
  assert.equal(answer.status(), 200);

  // Every operation of the document is in the page's sidebar, under its summary and its method, linked to its path;
  // and the sidebar lists nothing the document does not have.
  const sidebar = page.getByRole('complementary');
  for (const { method, path, summary } of operations) {
    await sidebar.getByRole('link', { name: `${summary} HTTP Method: ${method}`, exact: true })
      .and(page.locator(`a[href$="/${method}${path}"]`))
      .waitFor({ state: 'visible' });
  }
  const listed = await sidebar.locator('a[href^="#tag/"]').evaluateAll((links) =>
    links.map((a) => a.getAttribute('href').match(/^#tag\/[^/]+\/([A-Z]+)(\/.*)$/)).filter(Boolean).map(([, m, p]) => `${m} ${p}`));
  assert.deepEqual(listed.toSorted(), operations.map((o) => `${o.method} ${o.path}`).toSorted());

  // The user pastes the key into the page's auth field, with the API's bearer scheme already chosen, and tries GET /jobs.
  await page.getByRole('button', { name: 'Selected Auth Type: bearer', exact: true }).first().waitFor({ state: 'visible' });
  await page.getByRole('textbox', { name: 'Bearer Token' }).first().fill(key);
  await page.getByRole('button', { name: 'Test Request (get /jobs)', exact: true }).click();
  const client = page.getByRole('dialog', { name: 'API Client' });
  const [called] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/jobs' && r.request().method() === 'GET'),
    client.getByRole('button', { name: 'Send get request to /jobs' }).click(),
  ]).catch((e) => assert.fail(`${e.message}\nthe page's requests: ${requests.join(', ')}\nerrors: ${errors.join(', ')}`));
  assert.equal(called.request().headers().authorization, `Bearer ${key}`);
  assert.equal(called.status(), 200);
  // What the user sees: the status, and their job in the answer.
  await client.getByRole('link', { name: '200 OK', exact: true }).waitFor({ state: 'visible' });
  await client.getByText(jobId).first().waitFor({ state: 'visible' });

  const violations = await page.evaluate(() => window.__violations);
  assert.deepEqual(elsewhere, [], `requests that would have left 127.0.0.1 (all requests: ${requests.join(', ')})`);
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(errors, [], 'errors in the page');
  assert.ok(requests.some((r) => r.endsWith('/openapi/v1.json')), `the page read the document: ${requests.join(', ')}`);
});
