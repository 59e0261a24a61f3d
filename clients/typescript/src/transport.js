// Every request of the client goes through here: the address, the key, the retries, and problems turned into errors.
import { problemOf } from './errors.js';
import { defaultRetry, delayBefore, isRetryable, retryAfterMs, sleep } from './retry.js';

export class Transport {
  constructor(options) {
    if (!options?.baseUrl)
      throw new TypeError("Give the service's address: new JobsClient({ baseUrl: 'https://jobs.example.com' }).");
    // With a trailing slash, relative paths resolve under a base path (https://example.com/api/ + jobs).
    const base = String(options.baseUrl);
    this.base = new URL(base.endsWith('/') ? base : `${base}/`);
    this.apiKey = options.apiKey;
    this.retry = { ...defaultRetry, ...options.retry };
    this.reconnectForMs = options.reconnectForMs ?? 5 * 60_000;
    this.longPollWaitSeconds = options.longPollWaitSeconds ?? 30;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
    // Called through a function of our own: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    const fetchFunction = options.fetch ?? globalThis.fetch;
    this.fetch = (url, init) => fetchFunction(url, init);
  }

  /** The absolute URL of a path of the service ("jobs/123"). */
  url(path) {
    return new URL(path.replace(/^\/+/, ''), this.base);
  }

  /**
   * Sends a request, and again as the retry policy says, reading the whole answer each time (an answer cut half way is a
   * connection failure too). Returns a 2xx or a 304; throws the problem for any other answer, and the last connection
   * error when the tries run out. Only for requests safe to send twice: reads, and writes the service makes idempotent
   * (a submission with its Idempotency-Key, a cancel).
   */
  async send(method, path, { headers = {}, body, signal } = {}) {
    const policy = this.retry;
    for (let attempt = 1; ; attempt++) {
      let answer;
      try {
        const response = await this.sendOnce(method, path, { headers, body, signal });
        answer = { status: response.status, headers: response.headers, text: await response.text() };
      } catch (error) {
        // fetch reports no answer (refused, reset, dropped mid-body) as a TypeError; anything else is not ours to retry.
        if (signal?.aborted || !(error instanceof TypeError) || attempt >= policy.maxAttempts)
          throw error;
        await sleep(delayBefore(policy, attempt), signal);
        continue;
      }
      if ((answer.status >= 200 && answer.status < 300) || answer.status === 304)
        return answer;
      const after = retryAfterMs(answer.headers);
      // A Retry-After longer than the policy allows ends the retries with the problem: never a longer wait than allowed.
      if (isRetryable(answer.status) && attempt < policy.maxAttempts && !(after > policy.maxDelayMs)) {
        await sleep(delayBefore(policy, attempt, after), signal);
        continue;
      }
      throw problemOf(answer.status, answer.headers.get('content-type'), answer.text);
    }
  }

  /** Sends once, with the key: no retry, the answer unread. */
  async sendOnce(method, path, { headers = {}, body, signal } = {}) {
    const key = typeof this.apiKey === 'function' ? await this.apiKey() : this.apiKey;
    const all = { ...headers };
    if (key)
      all.authorization = `Bearer ${key}`;
    if (body !== undefined)
      all['content-type'] = 'application/json';
    return this.fetch(this.url(path), { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body), signal });
  }
}

/** A successful answer's JSON. */
export function json(answer) {
  if (!answer.text)
    throw new Error(`The service answered ${answer.status} with no body.`);
  return JSON.parse(answer.text);
}
