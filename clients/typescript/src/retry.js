// When to try a request again and how long to wait first: capped exponential backoff with full jitter (a random wait from
// zero to min(maxDelayMs, baseDelayMs x 2^retry)), so clients that failed together do not come back together; never
// sooner than the service's Retry-After.

export const defaultRetry = Object.freeze({ maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 });

/** Worth another try: 408, 429 and every 5xx. Any other 4xx is the request's own fault and would fail the same way again. */
export const isRetryable = (status) => status === 408 || status === 429 || status >= 500;

/** The wait before retry number `retry` (from 1), at least `retryAfterMs` when the service named one. */
export function delayBefore(policy, retry, retryAfterMs) {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 30));
  const jittered = ceiling * Math.random();
  return retryAfterMs != null && retryAfterMs > jittered ? retryAfterMs : jittered;
}

/** An answer's Retry-After (seconds or an HTTP date) as milliseconds from now, or undefined. */
export function retryAfterMs(headers) {
  const value = headers.get('retry-after');
  if (value == null || value.trim() === '')
    return undefined;
  if (/^\d+$/.test(value.trim()))
    return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
