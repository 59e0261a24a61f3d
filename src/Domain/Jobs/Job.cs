using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Domain.Jobs;

public enum JobStatus
{
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>What decisions about a job need to know, folded from its events.</summary>
/// <param name="Attempt">The number of the current or last attempt, counting every start in the job's life (as its history does).</param>
/// <param name="MaxAttempts">
/// The number of the last attempt the job may make before a failure ends it for good. It starts at the
/// policy's attempts, grows by one when an attempt is handed back (a release is not a failure), and a
/// redrive grants a fresh set after the attempts made so far, so <paramref name="Attempt"/> never passes it.
/// </param>
/// <param name="Failures">Failed attempts since the job was submitted or last redriven: the backoff grows with them.</param>
/// <param name="Backoff">The retry delays in force when the job was submitted.</param>
/// <param name="AttemptsPerRound">The attempts the job was submitted with (or a redrive set), which a redrive grants again.</param>
public sealed record Job(
    Guid Id,
    string Type,
    JobStatus Status,
    int Attempt,
    int Progress,
    bool CancellationRequested,
    int MaxAttempts,
    int Failures,
    Backoff Backoff,
    int AttemptsPerRound)
{
    public bool IsFinished => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>Who the suspended attempt waits for, until when; null unless the job is processing and suspended.</summary>
    public string? WaitingFor { get; init; }

    public DateTimeOffset? WaitingUntil { get; init; }

    public bool IsSuspended => Status == JobStatus.Processing && WaitingFor is not null;

    /// <summary>
    /// How long one attempt may run: the submitted time-out, or the one a redrive set. Null in a state stored before it was
    /// kept here, where the submitted one is in force.
    /// </summary>
    public int? TimeoutSeconds { get; init; }

    /// <summary>The state after <paramref name="e"/>; null before the job was submitted.</summary>
    public static Job Evolve(Job? state, JobEvent e)
    {
        var next = Apply(state, e);
        // A wait belongs to one attempt: whatever ends or restarts the attempt ends it.
        return next.Status == JobStatus.Processing && e is not JobStarted ? next : next with { WaitingFor = null, WaitingUntil = null };
    }

    private static Job Apply(Job? state, JobEvent e) => (state, e) switch
    {
        (null, JobSubmitted s) => new Job(
            s.JobId, s.Type, JobStatus.Queued, Attempt: 0, Progress: 0, CancellationRequested: false, s.MaxAttempts, Failures: 0, s.Backoff, s.MaxAttempts)
        {
            TimeoutSeconds = s.TimeoutSeconds,
        },
        (null, _) => throw new InvalidOperationException($"A job's stream must start with {nameof(JobSubmitted)}, not {e.GetType().Name}."),
        (_, JobStarted s) => state with { Status = JobStatus.Processing, Attempt = s.Attempt, Progress = 0 },
        (_, JobProgressed p) => state with { Progress = p.Percent },
        (_, JobSuspended s) => state with { WaitingFor = s.WaitingFor, WaitingUntil = s.Until },
        (_, JobCompleted) => state with { Status = JobStatus.Completed, Progress = 100 },
        (_, JobAttemptFailed) => state with { Status = JobStatus.Queued, Progress = 0, Failures = state.Failures + 1 },
        (_, JobFailed) => state with { Status = JobStatus.Failed, Failures = state.Failures + 1 },
        (_, JobReleased) => state with { Status = JobStatus.Queued, Progress = 0, MaxAttempts = state.MaxAttempts + 1 },
        (_, JobRedriven r) => state with
        {
            Status = JobStatus.Queued, Progress = 0, Failures = 0,
            AttemptsPerRound = r.MaxAttempts ?? state.AttemptsPerRound,
            MaxAttempts = state.Attempt + (r.MaxAttempts ?? state.AttemptsPerRound),
            TimeoutSeconds = r.TimeoutSeconds ?? state.TimeoutSeconds,
        },
        (_, JobCancellationRequested) => state with { CancellationRequested = true },
        (_, JobCancelled) => state with { Status = JobStatus.Cancelled },
        _ => state,
    };

    public static Job? Fold(IEnumerable<JobEvent> events) => events.Aggregate((Job?)null, Evolve);

    /// <summary>
    /// The correlation id every event of a job carries, whoever appends it: the one it was submitted with, or else the job's
    /// own id. An auditor finds a job's whole history by it, as one trace.
    /// </summary>
    public static string CorrelationOf(Guid jobId, string? submitted) => submitted ?? jobId.ToString();
}
