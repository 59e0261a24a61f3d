using System.Text.Json;

namespace EventSourced.Domain.Jobs;

/// <summary>
/// Everything that happens to a job: one stream per job. A closed hierarchy (private
/// constructor, nested sealed records), so a switch over it can be total.
/// </summary>
public abstract record JobEvent
{
    private JobEvent()
    {
    }

    public abstract Guid JobId { get; init; }

    /// <summary>When it happened, by the clock of whoever decided it. Projections use this, never "now".</summary>
    public abstract DateTimeOffset At { get; init; }

    /// <summary>A client asked for the work. Keeps what it takes to recognise a retry of the same request.</summary>
    public sealed record JobSubmitted(
        Guid JobId,
        string Type,
        JsonElement Input,
        string? CallbackUrl,
        string? CorrelationId,
        string Fingerprint,
        string IdempotencyKey,
        DateTimeOffset At) : JobEvent;

    /// <summary>A runner took the job; attempts count from 1.</summary>
    public sealed record JobStarted(Guid JobId, int Attempt, string Worker, DateTimeOffset At) : JobEvent;

    public sealed record JobProgressed(Guid JobId, int Attempt, int Percent, string? Message, DateTimeOffset At) : JobEvent;

    /// <summary>The work is done. <paramref name="Result"/> is JSON, or a JSON string when the content type is not JSON (a CSV, say).</summary>
    public sealed record JobCompleted(Guid JobId, JsonElement Result, string ResultContentType, DateTimeOffset At) : JobEvent;

    public sealed record JobFailed(Guid JobId, string ErrorCode, string ErrorMessage, DateTimeOffset At) : JobEvent;

    public sealed record JobCancellationRequested(Guid JobId, string? Reason, DateTimeOffset At) : JobEvent;

    public sealed record JobCancelled(Guid JobId, DateTimeOffset At) : JobEvent;

    /// <summary>The stable names events are stored under. A rename in C# must not change them.</summary>
    public static readonly IReadOnlyDictionary<string, Type> TypeNames = new Dictionary<string, Type>
    {
        ["job.submitted"] = typeof(JobSubmitted),
        ["job.started"] = typeof(JobStarted),
        ["job.progressed"] = typeof(JobProgressed),
        ["job.completed"] = typeof(JobCompleted),
        ["job.failed"] = typeof(JobFailed),
        ["job.cancellation_requested"] = typeof(JobCancellationRequested),
        ["job.cancelled"] = typeof(JobCancelled),
    };
}
