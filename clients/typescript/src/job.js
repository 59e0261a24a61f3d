// One job: its status, its events, its end, its result. Made by submit(), or from the id alone by client.job(id) (an
// app that restarts keeps only the id).
import { EventStreamUnavailableError, JobsApiError, problemOf } from './errors.js';
import { delayBefore, isRetryable, retryAfterMs, sleep } from './retry.js';
import { json } from './transport.js';
import { readEvents, SseParser } from './sse.js';

const finalStatuses = new Set(['completed', 'failed', 'cancelled']);

/** Completed, failed or cancelled: nothing more will happen to the job. */
export const isFinished = (status) => finalStatuses.has(status);

/** How long to wait before reconnecting a dropped stream until the service says (its "retry:" field). */
const defaultReconnectMs = 3000;

export class JobHandle {
  #transport;
  #cached; // { etag, state } of the last GET /jobs/{id}

  constructor(transport, id, accepted) {
    this.#transport = transport;
    /** The job's id. */
    this.id = id;
    /** The service's 202 (with the key it was sent with), when this handle came from submit(); undefined for one rebuilt from an id. */
    this.accepted = accepted;
    /** The sequence of the last event any watch of this handle yielded: where the next follow() resumes. */
    this.lastEventId = undefined;
  }

  /** The last status read, if any. */
  get lastKnown() {
    return this.#cached?.state;
  }

  /**
   * Where the job stands now: the authoritative answer, to ask first when the app comes back after a while. Sends the
   * last ETag as If-None-Match, so an unchanged job costs a 304 and the last state is returned.
   */
  async status({ signal } = {}) {
    return (await this.#readStatus({ signal })).state;
  }

  /**
   * The job's events as they happen, from its first (or after `afterEventId`, a `sequence` you kept) to its final one.
   * A dropped stream, a node that shuts down, a service that restarts: it reconnects with Last-Event-ID and the service
   * sends what was missed; no event is yielded twice. Gives up after `reconnectForMs` without a connection; a problem
   * (404, 410 job_expired) is thrown at once.
   */
  async *watch({ afterEventId, signal } = {}) {
    const transport = this.#transport;
    let last = afterEventId ?? undefined;
    let reconnectMs = defaultReconnectMs;
    let failures = 0;
    let connectedAt = Date.now();
    while (true) {
      // Our own controller: it ends the download when the caller aborts, leaves the loop, or the stream goes quiet.
      const connection = new AbortController();
      const abort = () => connection.abort(signal.reason);
      signal?.addEventListener('abort', abort, { once: true });
      let failure;
      let retryAfter;
      try {
        const opened = await this.#openStream(last, connection.signal);
        ({ failure, retryAfter } = opened);
        if (opened.response) {
          if (opened.response.status === 204)
            return;
          connectedAt = Date.now();
          const parser = new SseParser();
          // The service sends a comment every 15 s: silence for longer means a dead connection (a phone that slept).
          let idle;
          const awake = () => {
            clearTimeout(idle);
            idle = setTimeout(() => connection.abort(new Error(`No byte from job ${this.id}'s event stream for ${transport.idleTimeoutMs} ms.`)), transport.idleTimeoutMs);
          };
          awake();
          try {
            for await (const item of readEvents(watching(opened.response, awake), parser)) {
              // Events of one chunk come together: none after the caller stopped (a follow() paused while handling one).
              signal?.throwIfAborted();
              if (parser.retry > 0)
                reconnectMs = parser.retry;
              if (!/^\d+$/.test(item.id))
                throw new SyntaxError(`An event of job ${this.id}'s stream has the id '${item.id}', not a sequence number.`);
              const sequence = Number(item.id);
              if (last !== undefined && sequence <= last)
                continue;
              const event = toEvent(sequence, item.event, item.data);
              last = sequence;
              this.lastEventId = sequence;
              failures = 0;
              yield event;
              if (event.isFinal)
                return;
            }
            if (parser.retry > 0)
              reconnectMs = parser.retry;
            // Ended by the service (a node shutting down) or cut: reconnect and resume.
          } catch (error) {
            // Our own abort without the caller's is the stream gone quiet: a dead connection, like a cut one.
            if (signal?.aborted || !(isConnectionFailure(error) || connection.signal.aborted))
              throw error;
            failure = error;
          } finally {
            clearTimeout(idle);
          }
        }
      } finally {
        signal?.removeEventListener('abort', abort);
        connection.abort();
      }
      failures++;
      if (Date.now() - connectedAt > transport.reconnectForMs)
        throw failure ?? new Error(`Job ${this.id}'s event stream kept ending for ${transport.reconnectForMs} ms without an event.`);
      // The first reconnect after a drop waits a random part of the service's retry interval, so the clients of a node
      // that went away do not all come back at once; then backoff, as for any request.
      const delay = failures === 1 && retryAfter === undefined ? reconnectMs * Math.random() : delayBefore(transport.retry, failures, retryAfter);
      await sleep(delay, signal);
    }
  }

  /**
   * Waits until the job has finished and returns its final state. Reads the status first (it may be finished already);
   * then, with strategy 'auto', follows the event stream, long-polls when something in between does not pass streams,
   * and polls at the service's Retry-After when long polls are not held. 'stream', 'longpoll' and 'poll' pick one.
   */
  async waitForCompletion({ strategy = 'auto', signal } = {}) {
    if (!['auto', 'stream', 'longpoll', 'poll'].includes(strategy))
      throw new TypeError(`strategy is 'auto', 'stream', 'longpoll' or 'poll', not '${strategy}'.`);
    let state = await this.status({ signal });
    if (isFinished(state.status))
      return state;
    if (strategy === 'auto' || strategy === 'stream') {
      try {
        for await (const event of this.watch({ afterEventId: this.lastEventId, signal }))
          void event;
        state = await this.status({ signal });
        if (isFinished(state.status) || strategy === 'stream')
          return state;
      } catch (error) {
        // Something between here and the service does not pass streams: long polls pass every proxy.
        if (!(error instanceof EventStreamUnavailableError) || strategy !== 'auto')
          throw error;
      }
    }
    return this.#pollUntilFinished(strategy !== 'poll', signal);
  }

  /**
   * Follows the job for a screen: `onState` with what GET /jobs/{id} says, then `onEvent` for each event once, in order,
   * until the job ends. `pause()` closes the stream (the app went to the background); `resume()` is the hook for "the
   * app came back to the foreground": it reads GET /jobs/{id} first (the authoritative answer, `onState`), and follows
   * the stream again from the last event only if the job has not finished. `done` is the final state.
   */
  follow({ onEvent = () => {}, onState = () => {}, onError = () => {} } = {}) {
    let running; // the AbortController of the current status read and watch
    let stopped = false;
    let settle;
    const done = new Promise((resolve, reject) => (settle = { resolve, reject }));
    const run = async () => {
      running?.abort();
      const current = (running = new AbortController());
      try {
        let state = await this.status({ signal: current.signal });
        onState(state);
        if (!isFinished(state.status)) {
          for await (const event of this.watch({ afterEventId: this.lastEventId, signal: current.signal })) {
            if (current.signal.aborted)
              return;
            onEvent(event);
          }
          state = await this.status({ signal: current.signal });
          onState(state);
        }
        if (isFinished(state.status)) {
          stopped = true;
          settle.resolve(state);
        }
      } catch (error) {
        if (current.signal.aborted)
          return; // paused, resumed or stopped meanwhile
        onError(error);
      }
    };
    void run();
    return {
      done,
      pause: () => running?.abort(),
      resume: () => (stopped ? undefined : run()),
      stop: () => {
        stopped = true;
        running?.abort();
      },
    };
  }

  /**
   * Cancels the job: a queued one at once, a running one is asked to stop. With `ifMatch` (a version you read, or its
   * ETag), only if the job is still at that version: otherwise a VersionMismatchError. A job that already completed or
   * failed: a JobsApiError with code job_already_finished.
   */
  async cancel({ reason, ifMatch, signal } = {}) {
    const headers = {};
    if (ifMatch !== undefined)
      headers['if-match'] = typeof ifMatch === 'number' ? `"${ifMatch}"` : ifMatch;
    const body = reason === undefined ? undefined : { reason };
    return json(await this.#transport.send('POST', `jobs/${this.id}/cancel`, { headers, body, signal }));
  }

  /**
   * What the completed job produced: its JSON parsed, or its text for another content type (a report's CSV), or the text
   * with `as: 'text'`. Before it completed: a JobsApiError with code job_not_completed.
   */
  async result({ as, signal } = {}) {
    const answer = await this.#transport.send('GET', `jobs/${this.id}/result`, { signal });
    const isJson = /^application\/([\w.+-]+\+)?json/i.test(answer.headers.get('content-type') ?? '');
    return as === 'text' || (as !== 'json' && !isJson) ? answer.text : json(answer);
  }

  /** Every event of the job as stored (a key with the auditor role). */
  async history({ signal } = {}) {
    return json(await this.#transport.send('GET', `jobs/${this.id}/history`, { signal }));
  }

  /**
   * GET /jobs/{id} until the job has finished: held by the service until the job moves (long poll), or at the pace of
   * its Retry-After once a long poll comes back unchanged without being held (a proxy that drops Prefer, say). A
   * service away for a while is asked again, for up to reconnectForMs.
   */
  async #pollUntilFinished(longPoll, signal) {
    const transport = this.#transport;
    let answeredAt = Date.now();
    let polls = 0;
    while (true) {
      let read;
      try {
        read = await this.#readStatus({ wait: longPoll ? transport.longPollWaitSeconds : undefined, signal });
      } catch (error) {
        const transient = isConnectionFailure(error) || (error instanceof JobsApiError && isRetryable(error.status));
        if (signal?.aborted || !transient || Date.now() - answeredAt > transport.reconnectForMs)
          throw error;
        await sleep(delayBefore(transport.retry, ++polls), signal);
        continue;
      }
      answeredAt = Date.now();
      if (isFinished(read.state.status))
        return read.state;
      if (longPoll && (read.changed || read.held))
        continue;
      longPoll = false;
      // At the service's pace; without one, slower and slower, so an outage is not met with a flood of polls.
      await sleep(read.retryAfter ?? delayBefore(transport.retry, ++polls), signal);
    }
  }

  async #readStatus({ wait, signal }) {
    const cached = this.#cached;
    const headers = {};
    if (cached)
      headers['if-none-match'] = cached.etag;
    if (wait !== undefined)
      headers.prefer = `wait=${wait}`;
    const answer = await this.#transport.send('GET', `jobs/${this.id}`, { headers, signal });
    const held = answer.headers.has('preference-applied');
    const retryAfter = retryAfterMs(answer.headers);
    if (answer.status === 304 && cached)
      return { state: cached.state, changed: false, held, retryAfter };
    const state = json(answer);
    this.#cached = { etag: answer.headers.get('etag') ?? `"${state.version}"`, state };
    return { state, changed: true, held, retryAfter };
  }

  /** Opens the stream after `last`: the response, or why there is none and whether the service named a wait. */
  async #openStream(last, signal) {
    const headers = { accept: 'text/event-stream' };
    if (last !== undefined)
      headers['last-event-id'] = String(last);
    let response;
    try {
      response = await this.#transport.sendOnce('GET', `jobs/${this.id}/events`, { headers, signal });
    } catch (error) {
      if (signal.aborted)
        throw error;
      return { failure: error };
    }
    const contentType = response.headers.get('content-type')?.split(';')[0].trim().toLowerCase();
    if (response.status === 204 || (response.status === 200 && contentType === 'text/event-stream'))
      return { response };
    const text = await response.text().catch(() => '');
    if (isRetryable(response.status))
      return { failure: problemOf(response.status, contentType, text), retryAfter: retryAfterMs(response.headers) };
    if (contentType === 'application/problem+json')
      throw problemOf(response.status, contentType, text);
    throw new EventStreamUnavailableError(response.status, contentType);
  }
}

/** The body of `response`, calling `onBytes` whenever some arrive (to tell a live connection from a dead one). */
function watching(response, onBytes) {
  if (!response.body?.getReader)
    return response;
  const reader = response.body.getReader();
  return {
    body: {
      getReader: () => ({
        read: async () => {
          const chunk = await reader.read();
          onBytes();
          return chunk;
        },
        cancel: (reason) => reader.cancel(reason),
      }),
    },
  };
}

/** No answer, or an answer cut off: refused, reset, dropped mid-body. fetch reports each as a TypeError, in browsers and Node alike. */
const isConnectionFailure = (error) => error instanceof TypeError;

/** The typed event of one SSE item: the SSE fields beside the data's, and whether it is the job's last. */
function toEvent(sequence, name, data) {
  const payload = JSON.parse(data);
  return { ...payload, sequence, name, isFinal: finalStatuses.has(name) };
}
