// The ways a call can fail that a caller may want to tell apart, each with what it needs to act on.

/**
 * The service refused a request: its status, its stable `code` (the one to branch on), its title and detail, and the
 * whole problem for fields of its own (a validation problem's `errors`). `code` is undefined when the answer was not the
 * service's problem+json (a proxy's page).
 */
export class JobsApiError extends Error {
  constructor(status, problem, text) {
    const code = problem?.code;
    super(`${status} ${code ?? '(no code)'}: ${problem?.title ?? text ?? ''}${problem?.detail ? ` ${problem.detail}` : ''}`);
    this.name = 'JobsApiError';
    this.status = status;
    this.code = code;
    this.title = problem?.title;
    this.detail = problem?.detail;
    this.problem = problem;
  }
}

/** 422 idempotency_key_reused: the key made another request's job, `existingJobId`. Never retried: new work needs a new key. */
export class IdempotencyKeyReusedError extends JobsApiError {
  constructor(status, problem) {
    super(status, problem);
    this.name = 'IdempotencyKeyReusedError';
    this.existingJobId = problem.jobId;
  }
}

/** 412: the job moved past the version an If-Match named; it is now at `currentVersion`. */
export class VersionMismatchError extends JobsApiError {
  constructor(status, problem) {
    super(status, problem);
    this.name = 'VersionMismatchError';
    this.currentVersion = problem.currentVersion;
  }
}

/**
 * The job's event stream answered with something that is neither a stream nor the service's problem: something in
 * between (a proxy) does not pass Server-Sent Events. `waitForCompletion()` then long-polls.
 */
export class EventStreamUnavailableError extends Error {
  constructor(status, contentType) {
    super(`The event stream answered ${status} ${contentType ?? '(no content type)'} instead of text/event-stream: something between here and the service does not pass it.`);
    this.name = 'EventStreamUnavailableError';
    this.status = status;
    this.contentType = contentType;
  }
}

/** The error for an answer that is not a success: the typed one its code calls for. */
export function problemOf(status, contentType, text) {
  let problem;
  if (/^application\/(problem\+)?json/i.test(contentType ?? '') && text) {
    try {
      problem = JSON.parse(text);
    } catch {
      // Not JSON after all: reported with the text below.
    }
  }
  if (problem === null || typeof problem !== 'object' || Array.isArray(problem))
    return new JobsApiError(status, undefined, `the answer was ${contentType ?? 'without a content type'}, not a problem from the service: ${truncate(text)}`);
  if (status === 422 && problem.code === 'idempotency_key_reused' && typeof problem.jobId === 'string')
    return new IdempotencyKeyReusedError(status, problem);
  if (status === 412 && typeof problem.currentVersion === 'number')
    return new VersionMismatchError(status, problem);
  return new JobsApiError(status, problem);
}

const truncate = (text) => (text && text.length > 500 ? `${text.slice(0, 500)}...` : text ?? '');
