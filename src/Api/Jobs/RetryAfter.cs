using System.Globalization;
using EventSourced.Domain.Jobs;

namespace EventSourced.Api.Jobs;

/// <summary>When a client polling a job should ask again: the Retry-After of the 202 and of GET /jobs/{id}.</summary>
public static class RetryAfter
{
    /// <summary>Nothing in this service moves a job that only external workers run, so asking every second is waste.</summary>
    public const int ExternalSeconds = 5;

    /// <summary>
    /// None once the job is finished. A retry that is due later: not before it is due. A job waiting for an
    /// external worker: <see cref="ExternalSeconds"/>. Otherwise one second (a runner here takes it at once).
    /// </summary>
    public static void Set(HttpResponse response, Job state, DateTimeOffset? runAfter, bool external, DateTimeOffset now)
    {
        if (state.IsFinished)
            return;
        var seconds =
            state.Status == JobStatus.Queued && runAfter > now ? Math.Max(1, (int)Math.Ceiling((runAfter.Value - now).TotalSeconds))
            : state.Status == JobStatus.Queued && external ? ExternalSeconds
            : 1;
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
    }
}
