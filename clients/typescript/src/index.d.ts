// The types of @eventsourced/jobs-client. The models (JobAccepted, JobStatus, ...) are the service's OpenAPI document's
// schemas (docs/api/openapi.json) and the events are its AsyncAPI document's payloads (docs/api/asyncapi.json):
// test/types.test.mjs fails when a property is missing, extra, optional where it is required, or of another type.
// Times are ISO 8601 strings, as the service sends them.

/** Where the service is, how to sign in, and how patiently to retry. */
export interface JobsClientOptions {
  /** The service's address (http://127.0.0.1:5000, or with a path: https://example.com/api). */
  baseUrl: string | URL;
  /** The API key, sent as "Authorization: Bearer"; a function is asked before every request (a token you refresh). Unset: none is sent (a backend in front adds its own). */
  apiKey?: string | (() => string | Promise<string>);
  /** How single requests (submit, status, cancel, result, history) are retried. */
  retry?: Partial<RetryPolicy>;
  /** How long a watch or a wait keeps reconnecting while it gets nothing (the service restarting, the network gone) before it gives up with the last error; default 5 minutes. */
  reconnectForMs?: number;
  /** How long one long poll asks the service to hold it (Prefer: wait=N; the service cuts it to 60); default 30. */
  longPollWaitSeconds?: number;
  /** A stream that sends nothing for this long is taken as dead and reconnected (the service sends a comment every 15 s); default 45,000. */
  idleTimeoutMs?: number;
  /** The fetch to use (default: globalThis.fetch); React Native: one that streams bodies, see docs/clients/typescript.md. */
  fetch?: (input: URL, init: RequestInit) => Promise<Response>;
}

/** Capped exponential backoff with full jitter: a random wait from 0 to min(maxDelayMs, baseDelayMs x 2^retry), never sooner than Retry-After. */
export interface RetryPolicy {
  /** Tries in all, the first included; default 6. */
  maxAttempts: number;
  /** The ceiling of the first retry's random wait; it doubles with each retry. Default 500. */
  baseDelayMs: number;
  /** The highest ceiling of a random wait; a Retry-After longer than this ends the retries with the problem. Default 30,000. */
  maxDelayMs: number;
}

/** What a submission may carry besides its type and input; every field is optional. */
export interface SubmitOptions {
  /** The key of this piece of work. Unset: a UUID made here and reused on the client's own retries. Set it to something your domain owns (an order id) to make retries across restarts land on the same job too. */
  idempotencyKey?: string;
  /** Where the service posts signed callbacks (Standard Webhooks). */
  callbackUrl?: string;
  /** What the callbacks are about: started, progress, waiting, retrying, completed, failed, cancelled (unset: the end). */
  callbackEvents?: string[];
  correlationId?: string;
  maxAttempts?: number;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

/** The body of POST /jobs (schema SubmitJobRequest): what submit() sends. */
export interface SubmitJobRequest {
  type: string;
  input: unknown;
  callbackUrl?: string | null;
  correlationId?: string | null;
  maxAttempts?: number | null;
  timeoutSeconds?: number | null;
  callbackEvents?: string[] | null;
}

/** The service's 202 to a submission (schema JobAccepted). */
export interface JobAccepted {
  jobId: string;
  status: string;
  statusUrl: string;
  eventsUrl: string;
}

/** The 202 with what the client knows of it. */
export interface SubmitReceipt extends JobAccepted {
  /** The key it was sent with (made by the client when none was given): keep it to submit the same work again. */
  idempotencyKey: string;
  /** True when the key had made this job before (a retry whose first answer was lost, say): no new job was made. */
  replayed: boolean;
}

/** Why an attempt or a job failed: a code a program can branch on, and a message for people. */
export interface JobError {
  code: string;
  message: string;
}

/** queued, processing, completed, failed or cancelled. */
export type JobStatusName = 'queued' | 'processing' | 'completed' | 'failed' | 'cancelled';

/** Where a job stands, as GET /jobs/{id} says (schema JobStatusResponse): the authoritative answer. */
export interface JobStatus {
  jobId: string;
  type: string;
  status: string;
  progress: number;
  message?: string | null;
  attempt: number;
  maxAttempts: number;
  nextAttemptAt?: string | null;
  cancellationRequested: boolean;
  correlationId?: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt?: string | null;
  finishedAt?: string | null;
  resultUrl?: string | null;
  error?: JobError;
  /** The job's version, its ETag: what cancel({ ifMatch }) takes. */
  version: number;
  waitingFor?: string | null;
  waitingUntil?: string | null;
  eventsUrl?: string | null;
}

/** The service's 202 to a cancel (schema CancelAccepted): a queued job is cancelled at once, a running one is asked to stop. */
export interface CancelAccepted {
  jobId: string;
  status: string;
  cancellationRequested: boolean;
  version: number;
}

/** Every event of a job as stored (schema JobHistory). */
export interface JobHistory {
  jobId: string;
  events: StoredEvent[];
}

/** One stored event: its global sequence number, the job's version after it, its type (job.started, ...), its data as stored. */
export interface StoredEvent {
  seq: number;
  jobId: string;
  version: number;
  type: string;
  timestamp: string;
  data: unknown;
  metadata: EventMetadata;
}

/** Who and what caused an event. */
export interface EventMetadata {
  correlationId?: string | null;
  causationId?: string | null;
  actor?: string | null;
}

/** An RFC 9457 problem with the service's stable code (schema Problem). */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  /** validation_failed: the errors per field, keyed by the field's path (input.fileId). */
  errors?: Record<string, string[]>;
}

/** What every event of a job's stream carries: the SSE id and name, and where the job stands after the event. */
export interface JobEventBase {
  /** The SSE id: the event's global sequence number. It grows along the stream, with gaps; pass it to watch({ afterEventId }). */
  sequence: number;
  /** The SSE event name. */
  name: string;
  /** completed, failed or cancelled: nothing follows it. */
  isFinal: boolean;
  jobId: string;
  /** The stored event behind it: job.submitted, job.started, job.progressed, ... */
  eventType: string;
  /** The job's status after the event. */
  status: string;
  progress: number;
  attempt: number;
  /** The job's version after the event (its ETag). */
  version: number;
  timestamp: string;
}

/** Waiting to run: submitted, given back, retried by an operator, after a failed attempt (error, retryAt), or asked to cancel (cancellationRequested). */
export interface QueuedEvent extends JobEventBase {
  name: 'queued';
  jobType?: string;
  correlationId?: string;
  error?: JobError;
  retryAt?: string;
  reason?: string;
  cancellationRequested?: boolean;
}

/** A runner started an attempt (worker), or a running job was asked to stop (cancellationRequested). */
export interface ProcessingEvent extends JobEventBase {
  name: 'processing';
  worker?: string;
  cancellationRequested?: boolean;
  reason?: string;
}

/** The attempt reported progress. */
export interface ProgressEvent extends JobEventBase {
  name: 'progress';
  percent: number;
  message?: string;
}

/** Suspended until someone outside (a payment provider) reports the outcome. */
export interface WaitingEvent extends JobEventBase {
  name: 'waiting';
  waitingFor: string;
  waitingUntil: string;
}

export interface CompletedEvent extends JobEventBase {
  name: 'completed';
  resultUrl: string;
  resultContentType: string;
}

export interface FailedEvent extends JobEventBase {
  name: 'failed';
  error: JobError;
}

export interface CancelledEvent extends JobEventBase {
  name: 'cancelled';
}

/** One event of a job's stream; switch on `name`. An event name this version does not know is yielded too, with its data as sent. */
export type JobEvent = QueuedEvent | ProcessingEvent | ProgressEvent | WaitingEvent | CompletedEvent | FailedEvent | CancelledEvent;

/** How waitForCompletion() learns that a job ended. */
export type WaitStrategy =
  /** The event stream; long polling when something in between does not pass streams; polling when long polls are not held. */
  | 'auto'
  /** The event stream only. */
  | 'stream'
  /** GET /jobs/{id} held by the service until the job moves (Prefer: wait); polling when it is not held. */
  | 'longpoll'
  /** GET /jobs/{id} at the pace of its Retry-After, with If-None-Match. */
  | 'poll';

/** What follow() calls. */
export interface FollowCallbacks {
  /** Each event once, in order. */
  onEvent?: (event: JobEvent) => void;
  /** What GET /jobs/{id} said: at the start, on every resume(), and at the end. */
  onState?: (state: JobStatus) => void;
  /** A failure that stopped following (a problem of the service, or no connection for reconnectForMs); resume() tries again. */
  onError?: (error: unknown) => void;
}

/** A job followed for a screen; wire pause() and resume() to the app going to the background and coming back. */
export interface Following {
  /** The final state, once the job ended. */
  done: Promise<JobStatus>;
  /** Closes the stream (the app went to the background). */
  pause(): void;
  /** The app came back: reads GET /jobs/{id} first, then follows the stream from the last event only if the job has not finished. */
  resume(): void;
  /** Stops following for good. */
  stop(): void;
}

/** One job: its status, its events, its end, its result. */
export class JobHandle {
  readonly id: string;
  /** The 202 when this handle came from submit(); undefined for one rebuilt from an id. */
  readonly accepted?: SubmitReceipt;
  /** The sequence of the last event a watch of this handle yielded. */
  lastEventId?: number;
  /** The last status read, if any. */
  readonly lastKnown?: JobStatus;
  /** GET /jobs/{id} with If-None-Match: an unchanged job costs a 304 and the last state is returned. */
  status(options?: { signal?: AbortSignal }): Promise<JobStatus>;
  /** The job's events until its final one, resuming with Last-Event-ID across cuts, never one twice. */
  watch(options?: { afterEventId?: number; signal?: AbortSignal }): AsyncGenerator<JobEvent, void, undefined>;
  /** The job's final state. */
  waitForCompletion(options?: { strategy?: WaitStrategy; signal?: AbortSignal }): Promise<JobStatus>;
  /** Follows the job for a screen, with the foreground hook resume(). */
  follow(callbacks?: FollowCallbacks): Following;
  /** POST /jobs/{id}/cancel; with ifMatch (a version or its ETag) only at that version, else VersionMismatchError. */
  cancel(options?: { reason?: string; ifMatch?: number | string; signal?: AbortSignal }): Promise<CancelAccepted>;
  /** The completed job's result: its JSON parsed, or its text (another content type, or as: 'text'). */
  result<T = unknown>(options?: { as?: 'json' | 'text'; signal?: AbortSignal }): Promise<T>;
  /** Every event as stored (a key with the auditor role). */
  history(options?: { signal?: AbortSignal }): Promise<JobHistory>;
}

export class JobsClient {
  constructor(options: JobsClientOptions);
  /** A job you know by its id: nothing is asked of the service until you call the handle. */
  job(id: string): JobHandle;
  /** POST /jobs with an Idempotency-Key (made here unless given), the same on every retry. */
  submit(type: string, input: unknown, options?: SubmitOptions): Promise<JobHandle>;
}

/** The service refused a request; `code` is its stable code, undefined when the answer was not the service's problem (a proxy's page). */
export class JobsApiError extends Error {
  readonly status: number;
  readonly code?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly problem?: Problem & Record<string, unknown>;
}

/** 422 idempotency_key_reused: the key made another request's job. */
export class IdempotencyKeyReusedError extends JobsApiError {
  readonly existingJobId: string;
}

/** 412: the job moved past the version an If-Match named. */
export class VersionMismatchError extends JobsApiError {
  readonly currentVersion: number;
}

/** The events URL answered something that is neither a stream nor the service's problem (a proxy's page). */
export class EventStreamUnavailableError extends Error {
  readonly status: number;
  readonly contentType?: string;
}

/** Completed, failed or cancelled. */
export function isFinished(status: string): boolean;

/** The HTML standard's event-stream parser, for reading other streams of the service (the audit feed) from fetch. */
export class SseParser {
  lastEventId: string;
  retry?: number;
  push(text: string): { id: string; event: string; data: string }[];
}
