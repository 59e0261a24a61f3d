using System.Globalization;
using EventSourced.Domain.Jobs;

namespace EventSourced.Api.Jobs;

/// <summary>When a client polling a job should ask again: the Retry-After of the 202, of GET /jobs/{id} and of its status monitor.</summary>
public static class RetryAfter
{
    /// <summary>Nothing in this service moves a job that only external workers run, or one suspended until a provider calls, so asking every second is waste.</summary>
    public const int ExternalSeconds = 5;

    /// <summary>However old a job is, a client asks at least this often.</summary>
    public const int MaxSeconds = 60;

    /// <summary>
    /// None once the job is finished. Otherwise a tenth of the job's age, from 1 to <see cref="MaxSeconds"/> seconds
    /// (a young job is polled often, one that has run for an hour once a minute), at least <see cref="ExternalSeconds"/>
    /// while it waits for an external worker or a provider, and never before a retry that is due later.
    /// </summary>
    public static void Set(HttpResponse response, Job state, DateTimeOffset? runAfter, DateTimeOffset createdAt, bool external, DateTimeOffset now)
    {
        if (state.IsFinished)
            return;
        var byAge = Math.Clamp((int)((now - createdAt).TotalSeconds / 10), 1, MaxSeconds);
        var waiting = (state.Status == JobStatus.Queued && external) || state.IsSuspended ? ExternalSeconds : 1;
        var untilRetry = state.Status == JobStatus.Queued && runAfter > now ? (int)Math.Ceiling((runAfter.Value - now).TotalSeconds) : 1;
        response.Headers.RetryAfter = Math.Max(byAge, Math.Max(waiting, untilRetry)).ToString(CultureInfo.InvariantCulture);
    }
}
