namespace EventSourced.Domain.Jobs;

/// <summary>
/// Events whose shape changed, as they are read from the store: every stored event of the name is read through one of
/// these and upcast to today's <see cref="JobEvent"/> (the store registers them as Marten upcasters), so the decider, the
/// projections, a rebuild and the auditors see one shape only, and no stored event is ever rewritten. Events of both
/// shapes are stored under the same name (clients filter the feed by it), so each reader accepts both.
/// A new change adds its reader here, with a test that reads events stored in the old shape.
/// </summary>
public static class EarlierJobEvents
{
    /// <summary>
    /// job.attempt_failed, stored with "errorCode" and "errorMessage" side by side until 2026-11-25, since then with one
    /// "error": {"code", "message"}, the shape the status and the event stream already showed.
    /// </summary>
    public sealed record AttemptFailed(Guid JobId, int Attempt, JobError? Error, string? ErrorCode, string? ErrorMessage, DateTimeOffset RetryAt, DateTimeOffset At)
    {
        public JobEvent.JobAttemptFailed Upcast() => new(JobId, Attempt, Error ?? new JobError(ErrorCode!, ErrorMessage!), RetryAt, At);
    }

    /// <summary>job.failed: the same change as <see cref="AttemptFailed"/>.</summary>
    public sealed record Failed(Guid JobId, int Attempt, JobError? Error, string? ErrorCode, string? ErrorMessage, DateTimeOffset At)
    {
        public JobEvent.JobFailed Upcast() => new(JobId, Attempt, Error ?? new JobError(ErrorCode!, ErrorMessage!), At);
    }
}
