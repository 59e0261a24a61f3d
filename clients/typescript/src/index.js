// The jobs service's client: submits work, and gives a handle for a job, also one rebuilt from its id alone after the
// app restarted. Zero dependencies: fetch, AbortController, TextDecoder and crypto.randomUUID.
import { JobHandle } from './job.js';
import { Transport, json } from './transport.js';

export { EventStreamUnavailableError, IdempotencyKeyReusedError, JobsApiError, VersionMismatchError } from './errors.js';
export { isFinished, JobHandle } from './job.js';
export { SseParser } from './sse.js';

export class JobsClient {
  #transport;

  constructor(options) {
    this.#transport = new Transport(options);
  }

  /** A job you know by its id: nothing is asked of the service until you call the handle. */
  job(id) {
    return new JobHandle(this.#transport, id, undefined);
  }

  /**
   * Submits a job of `type` with `input`. Sent with an Idempotency-Key, made here when `idempotencyKey` is not given, and
   * the same key on every retry: a connection lost after the service took the job, a 408, a 429 or a 5xx is retried with
   * backoff and lands on the same job, never a second one. Any other 4xx is thrown at once as a JobsApiError
   * (IdempotencyKeyReusedError when the key made another request's job).
   */
  async submit(type, input, { idempotencyKey, callbackUrl, callbackEvents, correlationId, maxAttempts, timeoutSeconds, signal } = {}) {
    const key = idempotencyKey ?? globalThis.crypto.randomUUID();
    const body = { type, input, callbackUrl, callbackEvents, correlationId, maxAttempts, timeoutSeconds };
    const answer = await this.#transport.send('POST', 'jobs', { headers: { 'idempotency-key': key }, body, signal });
    const accepted = json(answer);
    return new JobHandle(this.#transport, accepted.jobId, {
      ...accepted,
      idempotencyKey: key,
      replayed: answer.headers.get('idempotent-replayed') === 'true',
    });
  }
}
