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

    /// <summary>
    /// A client asked for the work. Keeps what it takes to recognise a retry of the same request,
    /// and the retry policy in force when it was submitted (attempts, time-out, backoff), so a later
    /// change of settings does not rewrite the rules for jobs already accepted. <paramref name="KeyGeneration"/> counts
    /// the jobs its Idempotency-Key started before (each expired); <paramref name="CallbackEvents"/> are the SSE event
    /// names the callback URL is told of (null: the end of the job).
    /// </summary>
    public sealed record JobSubmitted(
        Guid JobId,
        string Type,
        JsonElement Input,
        string? CallbackUrl,
        string? CorrelationId,
        string Fingerprint,
        string IdempotencyKey,
        int MaxAttempts,
        int TimeoutSeconds,
        Backoff Backoff,
        DateTimeOffset At,
        int KeyGeneration = 0,
        IReadOnlyList<string>? CallbackEvents = null) : JobEvent;

    /// <summary>A runner took the job; attempts count from 1.</summary>
    public sealed record JobStarted(Guid JobId, int Attempt, string Worker, DateTimeOffset At) : JobEvent;

    public sealed record JobProgressed(Guid JobId, int Attempt, int Percent, string? Message, DateTimeOffset At) : JobEvent;

    /// <summary>The work is done. <paramref name="Result"/> is JSON, or a JSON string when the content type is not JSON (a CSV, say).</summary>
    public sealed record JobCompleted(Guid JobId, JsonElement Result, string ResultContentType, DateTimeOffset At) : JobEvent;

    /// <summary>An attempt failed and another is due at <paramref name="RetryAt"/>: the job is queued again.</summary>
    public sealed record JobAttemptFailed(Guid JobId, int Attempt, JobError Error, DateTimeOffset RetryAt, DateTimeOffset At) : JobEvent;

    /// <summary>The job failed for good: its attempts are used up, or the error is not worth retrying. It is a dead letter.</summary>
    public sealed record JobFailed(Guid JobId, int Attempt, JobError Error, DateTimeOffset At) : JobEvent;

    /// <summary>
    /// The attempt now waits for someone outside the service (<paramref name="WaitingFor"/>: a payment provider) to report
    /// its outcome, until <paramref name="Until"/>; no runner holds it meanwhile. Without word by then, the job fails.
    /// </summary>
    public sealed record JobSuspended(Guid JobId, int Attempt, string WaitingFor, DateTimeOffset Until, DateTimeOffset At) : JobEvent;

    /// <summary>Its runner gave it back unfinished (the node was shutting down): queued again at once, not counted as a failure.</summary>
    public sealed record JobReleased(Guid JobId, int Attempt, string Reason, DateTimeOffset At) : JobEvent;

    /// <summary>
    /// An operator sent a failed job back to the queue, with a fresh set of attempts: <paramref name="MaxAttempts"/> of them and
    /// <paramref name="TimeoutSeconds"/> each when set, the job's policy from then on; null (as in events stored before they
    /// existed), the job's own.
    /// </summary>
    public sealed record JobRedriven(Guid JobId, string? Reason, DateTimeOffset At, int? MaxAttempts = null, int? TimeoutSeconds = null) : JobEvent;

    public sealed record JobCancellationRequested(Guid JobId, string? Reason, DateTimeOffset At) : JobEvent;

    public sealed record JobCancelled(Guid JobId, DateTimeOffset At) : JobEvent;

    /// <summary>
    /// A callback (webhook) about the event at <paramref name="Version"/> of the job's stream was not accepted by the
    /// receiver (a status code, or an error such as a time-out); it is sent again at <paramref name="RetryAt"/>.
    /// </summary>
    public sealed record WebhookAttempted(
        Guid JobId, string MessageId, long Version, int Attempt, int? StatusCode, string Error, DateTimeOffset RetryAt, DateTimeOffset At) : JobEvent;

    /// <summary>The receiver accepted the callback (a 2xx).</summary>
    public sealed record WebhookDelivered(Guid JobId, string MessageId, long Version, int Attempt, int StatusCode, DateTimeOffset At) : JobEvent;

    /// <summary>The callback will not be sent again: the receiver answered 410 Gone, or the attempts are used up.</summary>
    public sealed record WebhookAbandoned(
        Guid JobId, string MessageId, long Version, int Attempt, int? StatusCode, string Reason, DateTimeOffset At) : JobEvent;

    /// <summary>The stable names events are stored under. A rename in C# must not change them.</summary>
    public static readonly IReadOnlyDictionary<string, Type> TypeNames = new Dictionary<string, Type>
    {
        ["job.submitted"] = typeof(JobSubmitted),
        ["job.started"] = typeof(JobStarted),
        ["job.progressed"] = typeof(JobProgressed),
        ["job.completed"] = typeof(JobCompleted),
        ["job.attempt_failed"] = typeof(JobAttemptFailed),
        ["job.failed"] = typeof(JobFailed),
        ["job.suspended"] = typeof(JobSuspended),
        ["job.released"] = typeof(JobReleased),
        ["job.redriven"] = typeof(JobRedriven),
        ["job.cancellation_requested"] = typeof(JobCancellationRequested),
        ["job.cancelled"] = typeof(JobCancelled),
        ["webhook.attempted"] = typeof(WebhookAttempted),
        ["webhook.delivered"] = typeof(WebhookDelivered),
        ["webhook.abandoned"] = typeof(WebhookAbandoned),
    };
}
