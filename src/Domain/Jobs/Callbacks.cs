using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Domain.Jobs;

/// <summary>What a job's callback URL is told of, and what becomes of each attempt to tell it.</summary>
public static class Callbacks
{
    /// <summary>What a client may ask to be called about ("callbackEvents").</summary>
    public static readonly IReadOnlyList<string> Names = ["started", "progress", "waiting", "retrying", "completed", "failed", "cancelled"];

    /// <summary>Without "callbackEvents": the end of the job, however it ends.</summary>
    public static readonly IReadOnlyList<string> Default = ["completed", "failed", "cancelled"];

    /// <summary>
    /// A record of a callback sent about the job, not a change of the job: its status and its SSE stream ignore it.
    /// (A method, not a property of the event: a property would be stored with every event.)
    /// </summary>
    public static bool IsRecord(JobEvent e) => e is WebhookAttempted or WebhookDelivered or WebhookAbandoned;

    /// <summary>The callback name of an event, or null for one no callback is about (the callbacks' own events among them).</summary>
    public static string? NameOf(JobEvent e) => e switch
    {
        JobStarted => "started",
        JobProgressed => "progress",
        JobSuspended => "waiting",
        JobAttemptFailed => "retrying",
        JobCompleted => "completed",
        JobFailed => "failed",
        JobCancelled => "cancelled",
        _ => null,
    };

    /// <summary>
    /// The delay before attempt <paramref name="attemptsMade"/> + 1, or null when <paramref name="schedule"/> has no more:
    /// full jitter, a random share (<paramref name="jitter"/>, from 0 to 1) of the schedule's delay for that retry.
    /// </summary>
    public static TimeSpan? RetryDelay(int attemptsMade, IReadOnlyList<TimeSpan> schedule, double jitter) =>
        attemptsMade >= 1 && attemptsMade <= schedule.Count ? schedule[attemptsMade - 1] * jitter : null;

    /// <summary>
    /// The event that records one attempt: delivered on a 2xx; abandoned on 410 Gone (the receiver wants no more) or when
    /// no retry is left (<paramref name="retryAt"/> null); otherwise attempted, to be sent again at <paramref name="retryAt"/>.
    /// </summary>
    public static JobEvent Outcome(
        Guid jobId, string messageId, long version, int attempt, int? statusCode, string? error, DateTimeOffset? retryAt, DateTimeOffset now) =>
        statusCode switch
        {
            >= 200 and < 300 => new WebhookDelivered(jobId, messageId, version, attempt, statusCode.Value, now),
            410 => new WebhookAbandoned(jobId, messageId, version, attempt, statusCode, "The receiver answered 410 Gone: it wants no more callbacks.", now),
            _ when retryAt is null => new WebhookAbandoned(jobId, messageId, version, attempt, statusCode,
                $"No attempt is left; the last one failed: {Describe(statusCode, error)}", now),
            _ => new WebhookAttempted(jobId, messageId, version, attempt, statusCode, Describe(statusCode, error), retryAt.Value, now),
        };

    private static string Describe(int? statusCode, string? error) => statusCode is { } code ? $"the receiver answered {code}" : error ?? "no answer";
}
