using System.Net;
using System.Net.Http.Headers;

namespace EventSourced.Client;

/// <summary>
/// When to try a request again and how long to wait first: capped exponential backoff with full jitter (a random wait
/// from zero to min(<see cref="MaxDelay"/>, <see cref="BaseDelay"/> x 2^retry)), so clients that failed together do not
/// come back together; never sooner than the service's Retry-After. Shared by every call that retries, so a worker host
/// built on this client backs off the same way.
/// </summary>
public sealed class RetryPolicy
{
    /// <summary>Tries in all, the first included.</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>The ceiling of the first retry's random wait; it doubles with each retry.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The highest ceiling of a random wait. A Retry-After longer than this ends the retries with the answer instead:
    /// the client never waits longer than you allowed without saying so.
    /// </summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Worth another try: no answer (a refused or dropped connection, a time-out), 408, 429 and every 5xx.
    /// Any other 4xx is the request's own fault and would fail the same way again.
    /// </summary>
    public static bool IsRetryable(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    /// <summary>The wait before retry number <paramref name="retry"/> (from 1), at least <paramref name="retryAfter"/> when the service named one.</summary>
    public TimeSpan DelayBefore(int retry, TimeSpan? retryAfter = null)
    {
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry - 1, 30)));
        var jittered = TimeSpan.FromMilliseconds(ceiling * Random.Shared.NextDouble());
        return retryAfter is { } after && after > jittered ? after : jittered;
    }

    /// <summary>The Retry-After of an answer as a wait from now (it may be seconds or a date), if it has one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response) => RetryAfter(response.Headers.RetryAfter);

    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };
}
