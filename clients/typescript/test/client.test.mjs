// The client against the real service (BASE_URL, a key of every role in API_KEY), through a fault-injecting proxy where a
// test needs one: nothing is mocked. Run by TypeScriptClientTests (tests/Client.Tests), which starts the service:
//   BASE_URL=http://127.0.0.1:5000 API_KEY=esk_... node --test clients/typescript/test/
// The service has the external job types "parked" (nobody runs it: it stays queued) and "manual".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamUnavailableError, IdempotencyKeyReusedError, JobsApiError, JobsClient, VersionMismatchError } from '../src/index.js';
import { startProxy } from './proxy.mjs';

const base = process.env.BASE_URL ?? assert.fail('BASE_URL: the service to test, e.g. http://127.0.0.1:5000');
const key = process.env.API_KEY ?? assert.fail('API_KEY: a key with the client and auditor roles');
// Retries as the defaults do, but with short waits: the tests wait for things to happen, not for backoff.
const fast = { maxAttempts: 20, baseDelayMs: 50, maxDelayMs: 2000 };
// Every test is bounded: one that never sees what it should fails instead of hanging.
const bounded = { timeout: 120_000 };

const clientOf = (url) => new JobsClient({ baseUrl: url, apiKey: key, retry: fast });
const service = clientOf(base);
const unique = (name) => `${name}-${crypto.randomUUID()}`;
const transcode = (steps, stepMs) => ({ fileId: 'movie-1', steps, stepMs });
const submission = (req) => req.method === 'POST' && req.url === '/jobs';
const eventsOf = (id) => (req) => req.url.startsWith(`/jobs/${id}/events`);
const statusOf = (id) => (req) => req.url === `/jobs/${id}`;

async function proxied(t) {
  const proxy = await startProxy(base);
  t.after(() => proxy.close());
  return { proxy, client: clientOf(proxy.url) };
}

/** The jobs of the key's tenant with this correlation id, as GET /jobs lists them. */
async function jobsWith(correlationId) {
  const answer = await fetch(new URL(`/jobs?correlationId=${encodeURIComponent(correlationId)}`, base), { headers: { authorization: `Bearer ${key}` } });
  assert.equal(answer.status, 200);
  return (await answer.json()).jobs;
}

/** Waits until `condition()` holds: bounded, so a test that never sees it fails instead of hanging. */
async function until(condition, bound = 60_000) {
  const deadline = Date.now() + bound;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `not within ${bound} ms: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function collect(events) {
  const all = [];
  for await (const event of events)
    all.push(event);
  return all;
}

const transcodeNames = (steps) => ['queued', 'processing', ...Array(steps).fill('progress'), 'completed'];

test('submitting with the same key twice gives the same job, the second time as a replay', bounded, async () => {
  const idempotencyKey = unique('order');
  const first = await service.submit('transcode', transcode(1, 0), { idempotencyKey });
  const second = await service.submit('transcode', transcode(1, 0), { idempotencyKey });
  assert.equal(second.id, first.id);
  assert.equal(first.accepted.idempotencyKey, idempotencyKey);
  assert.equal(first.accepted.replayed, false);
  assert.equal(second.accepted.replayed, true);
  assert.match(first.accepted.eventsUrl, /^http:\/\/127\.0\.0\.1:\d+\/jobs\/.+\/events/);
});

test('the same key with another body is an IdempotencyKeyReusedError naming the job, sent once', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const idempotencyKey = unique('order');
  const first = await client.submit('transcode', transcode(1, 0), { idempotencyKey });
  const error = await client.submit('transcode', transcode(2, 0), { idempotencyKey }).catch((e) => e);
  assert.ok(error instanceof IdempotencyKeyReusedError, String(error));
  assert.ok(error instanceof JobsApiError);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'idempotency_key_reused');
  assert.equal(error.existingJobId, first.id);
  assert.equal(error.problem.code, 'idempotency_key_reused');
  assert.equal(proxy.requests.filter(submission).length, 2, 'the refused submission was not retried');
});

test('a 202 lost after the service committed ends with the same job, and only one', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const correlationId = unique('lost-202');
  proxy.dropAnswer(submission);
  const job = await client.submit('transcode', transcode(1, 0), { correlationId });
  const posts = proxy.requests.filter(submission);
  assert.equal(posts.length, 2);
  assert.equal(posts[0].fault, 'answer dropped');
  assert.equal(posts[0].status, 202, 'the service took the first one');
  assert.equal(posts[1].headers['idempotency-key'], posts[0].headers['idempotency-key'], 'the retry has the same key');
  assert.match(posts[0].headers['idempotency-key'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a key the client made: a UUID');
  assert.equal(job.accepted.replayed, true);
  assert.deepEqual((await jobsWith(correlationId)).map((j) => j.jobId), [job.id]);
});

test('a 503 with Retry-After is retried with the same key, never sooner than it says', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const correlationId = unique('unavailable');
  proxy.answer(submission, 503, { 'content-type': 'application/problem+json', 'retry-after': '1' },
    JSON.stringify({ title: 'Service Unavailable', status: 503, code: 'database_unavailable' }));
  const job = await client.submit('transcode', transcode(1, 0), { correlationId });
  const [refused, retried] = proxy.requests.filter(submission);
  assert.equal(refused.status, 503);
  assert.equal(retried.status, 202);
  assert.equal(retried.headers['idempotency-key'], refused.headers['idempotency-key']);
  const waited = retried.at - refused.at;
  assert.ok(waited >= 1000, `retried after ${waited} ms, before the Retry-After of 1 s`);
  t.diagnostic(`retried ${waited} ms after a 503 with Retry-After: 1`);
  assert.deepEqual((await jobsWith(correlationId)).map((j) => j.jobId), [job.id]);
});

test('a Retry-After longer than maxDelayMs ends the retries with the problem', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  proxy.answer(submission, 429, { 'content-type': 'application/problem+json', 'retry-after': '120' },
    JSON.stringify({ title: 'Too Many Requests', status: 429, code: 'rate_limited' }));
  const error = await client.submit('transcode', transcode(1, 0)).catch((e) => e);
  assert.ok(error instanceof JobsApiError, String(error));
  assert.equal(error.status, 429);
  assert.equal(error.code, 'rate_limited');
  assert.equal(proxy.requests.filter(submission).length, 1);
});

test('a 4xx other than 408 and 429 is not retried: its problem is a JobsApiError', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const error = await client.submit('transcode', { fileId: 'movie-1', steps: 'four' }).catch((e) => e);
  assert.ok(error instanceof JobsApiError, String(error));
  assert.equal(error.status, 400);
  assert.equal(error.code, 'validation_failed');
  assert.ok(error.title);
  assert.ok(error.problem.errors['input.steps'], JSON.stringify(error.problem));
  assert.equal(proxy.requests.filter(submission).length, 1);
});

test('a watch whose stream is cut in the middle of an event resumes with Last-Event-ID and yields each event once, in order', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const job = await client.submit('transcode', transcode(5, 300));
  const cut = proxy.cutStream(eventsOf(job.id), 2);
  const events = [];
  let afterCut;
  for await (const event of job.watch()) {
    if (cut.at !== undefined && afterCut === undefined)
      afterCut = Date.now() - cut.at;
    events.push(event);
  }
  assert.deepEqual(events.map((e) => e.name), transcodeNames(5));
  assert.ok(events.every((e, i) => i === 0 || e.sequence > events[i - 1].sequence), 'in order, none twice');
  assert.ok(events.every((e) => e.jobId === job.id));
  assert.equal(events.at(-1).isFinal, true);
  assert.equal(events.at(-1).status, 'completed');
  const streams = proxy.requests.filter(eventsOf(job.id));
  assert.equal(streams[0].fault, 'stream cut');
  assert.equal(streams[0].headers['last-event-id'], undefined);
  assert.equal(streams[1].headers['last-event-id'], String(events[1].sequence), 'resumed after the last whole event');
  assert.equal(streams[0].headers.authorization, `Bearer ${key}`, 'the key as a header, not in the URL');
  t.diagnostic(`the next event came ${afterCut} ms after the stream was cut (the service asks for retry: 3000)`);
});

test('a watch from the last event of a finished job ends at once with the service\'s 204', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const job = await client.submit('transcode', transcode(1, 0));
  const all = await collect(job.watch());
  assert.deepEqual(await collect(client.job(job.id).watch({ afterEventId: all.at(-1).sequence })), []);
  assert.equal(proxy.requests.filter(eventsOf(job.id)).at(-1).status, 204);
});

for (const strategy of ['auto', 'stream', 'longpoll', 'poll']) {
  test(`waitForCompletion with strategy '${strategy}' ends with the final state`, bounded, async (t) => {
    const { proxy, client } = await proxied(t);
    const job = await client.submit('transcode', transcode(5, 300));
    const state = await client.job(job.id).waitForCompletion({ strategy });
    assert.equal(state.status, 'completed');
    assert.equal(state.progress, 100);
    const requests = proxy.requests.filter((r) => r.url.startsWith(`/jobs/${job.id}`));
    assert.ok(requests.every((r) => r.status === 200 || r.status === 304), requests.map((r) => `${r.url} ${r.status}`).join(', '));
    if (strategy === 'auto' || strategy === 'stream')
      assert.equal(requests.filter(eventsOf(job.id)).length, 1);
    else
      assert.equal(requests.filter(eventsOf(job.id)).length, 0);
    if (strategy === 'longpoll')
      assert.ok(requests.slice(1).every((r) => r.headers.prefer === 'wait=30' && r.headers['if-none-match']));
    t.diagnostic(`requests for a job of five 300 ms steps, waiting with '${strategy}': ${requests.length}`);
  });
}

test('when the events URL answers a web page, waitForCompletion long-polls GET /jobs/{id}', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  // A job nobody runs: it moves when the test cancels it, once the client long-polls.
  const job = await client.submit('parked', { anything: 5 });
  proxy.answer(eventsOf(job.id), 200, { 'content-type': 'text/html' }, '<html><body>Streaming is not allowed here</body></html>');
  const waiting = job.waitForCompletion();
  await until(() => proxy.requests.some((r) => statusOf(job.id)(r) && r.headers.prefer === 'wait=30'));
  await service.job(job.id).cancel();
  const state = await waiting;
  assert.equal(state.status, 'cancelled');
  const polls = proxy.requests.filter(statusOf(job.id));
  assert.ok(polls.slice(1).every((r) => r.headers.prefer === 'wait=30' && r.headers['if-none-match']), 'long polls with the ETag');
  assert.equal(polls.at(-1).status, 200, 'the held long poll answered the change');
  assert.equal(proxy.requests.filter(eventsOf(job.id)).length, 1, 'the stream was tried once');
  // A watch, which has no other way, says why.
  proxy.answer(eventsOf(job.id), 200, { 'content-type': 'text/html' }, '<html><body>Streaming is not allowed here</body></html>');
  await assert.rejects(collect(client.job(job.id).watch()), EventStreamUnavailableError);
});

test('long polls that come back without Preference-Applied turn into polls at the service\'s Retry-After', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  // A job nobody runs, so that nothing but the test moves it: the long poll is answered unchanged for sure.
  const job = await client.submit('parked', { anything: 4 });
  // A proxy that drops Prefer: the service answers at once, and does not say it held the request.
  proxy.rewriteAlways(statusOf(job.id), (headers) => {
    delete headers.prefer;
    return headers;
  });
  const polls = () => proxy.requests.filter(statusOf(job.id));
  const waiting = job.waitForCompletion({ strategy: 'longpoll' });
  await until(() => polls()[1]?.status !== undefined);
  await service.job(job.id).cancel({ reason: 'seen unheld' });
  const state = await waiting;
  assert.equal(state.status, 'cancelled');
  const [read, longPoll, ...rest] = polls();
  assert.equal(read.headers.prefer, undefined, 'the first read is a plain one');
  assert.equal(longPoll.headers.prefer, 'wait=30', 'then a long poll');
  assert.equal(longPoll.status, 304);
  assert.ok(rest.length > 0 && rest.every((r) => r.headers.prefer === undefined && r.headers['if-none-match']), 'then polls with the ETag');
  const retryAfter = Number(longPoll.headersOut['retry-after'] ?? 0) * 1000;
  const waited = rest[0].at - longPoll.at;
  assert.ok(waited >= retryAfter, `polled ${waited} ms after the long poll, before its Retry-After of ${retryAfter} ms`);
  t.diagnostic(`polled ${waited} ms after an unheld long poll answered with Retry-After: ${retryAfter / 1000}`);
});

test('status sends the last ETag, and an unchanged job costs a 304 and answers the state read before', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const job = await client.submit('parked', { anything: 1 });
  const first = await job.status();
  const second = await job.status();
  assert.deepEqual(second, first);
  assert.equal(job.lastKnown, first);
  const [read, reread] = proxy.requests.filter(statusOf(job.id));
  assert.equal(read.status, 200);
  assert.equal(reread.headers['if-none-match'], `"${first.version}"`);
  assert.equal(reread.status, 304);
});

test('cancel with an old version is a VersionMismatchError with the current one; with the current version it cancels', bounded, async () => {
  const job = await service.submit('parked', { anything: 2 });
  const state = await job.status();
  const error = await job.cancel({ ifMatch: state.version + 1 }).catch((e) => e);
  assert.ok(error instanceof VersionMismatchError, String(error));
  assert.equal(error.status, 412);
  assert.equal(error.currentVersion, state.version);
  const cancelled = await job.cancel({ ifMatch: error.currentVersion, reason: 'user left' });
  assert.equal(cancelled.jobId, job.id);
  assert.equal(cancelled.status, 'cancelled');
  const events = await collect(job.watch());
  assert.equal(events.at(-1).name, 'cancelled');
  assert.ok(events.some((e) => e.cancellationRequested && e.reason === 'user left'));
  assert.equal((await job.waitForCompletion()).status, 'cancelled');
});

test('the result of a completed job, its history, and job_not_completed before it completed', bounded, async () => {
  const parked = await service.submit('parked', { anything: 3 });
  const early = await parked.result().catch((e) => e);
  assert.ok(early instanceof JobsApiError, String(early));
  assert.equal(early.code, 'job_not_completed');

  const job = await service.submit('transcode', transcode(2, 0));
  await job.waitForCompletion();
  const again = service.job(job.id); // an app that restarted keeps only the id
  const result = await again.result();
  assert.equal(result.output, 'movie-1.mp4');
  assert.match(await again.result({ as: 'text' }), /movie-1\.mp4/);
  const history = await again.history();
  assert.equal(history.jobId, job.id);
  const types = history.events.map((e) => e.type);
  assert.equal(types[0], 'job.submitted');
  assert.ok(types.includes('job.completed'), types.join(', '));
  assert.ok(history.events.every((e, i) => e.version === i + 1 && typeof e.seq === 'number'));
});

test('follow: resume() reads GET /jobs/{id} first and follows the stream again from the last event while the job runs', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const job = await client.submit('transcode', transcode(4, 300));
  const events = [];
  const states = [];
  const errors = [];
  let paused = false;
  const following = client.job(job.id).follow({
    onEvent: (e) => {
      events.push(e);
      if (!paused) {
        // The app goes to the background after the first event and comes back at once.
        paused = true;
        following.pause();
        following.resume();
      }
    },
    onState: (s) => states.push(s.status),
    onError: (e) => errors.push(e),
  });
  const final = await following.done;
  assert.deepEqual(errors, []);
  assert.equal(final.status, 'completed');
  assert.deepEqual(events.map((e) => e.name), transcodeNames(4), 'each event once, in order');
  assert.equal(states.at(-1), 'completed');
  const afterResume = proxy.requests.filter((r) => r.url.startsWith(`/jobs/${job.id}`)).slice(2);
  assert.ok(statusOf(job.id)({ url: afterResume[0].url }), 'the status first');
  assert.equal(afterResume[1].headers['last-event-id'], String(events[0].sequence), 'then the stream from the last event');
});

test('follow: resume() after the job finished in the background reads its state and opens no stream', bounded, async (t) => {
  const { proxy, client } = await proxied(t);
  const job = await client.submit('transcode', transcode(3, 200));
  const errors = [];
  const following = client.job(job.id).follow({ onError: (e) => errors.push(e) });
  following.pause(); // backgrounded at once
  await service.job(job.id).waitForCompletion();
  const before = proxy.requests.length;
  following.resume(); // back in the foreground
  const final = await following.done;
  assert.equal(final.status, 'completed');
  assert.deepEqual(errors, []);
  const afterResume = proxy.requests.slice(before);
  assert.deepEqual(afterResume.map((r) => r.url), [`/jobs/${job.id}`]);
});
