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
public sealed record Job(
    Guid Id,
    string Type,
    JobStatus Status,
    int Attempt,
    int Progress,
    bool CancellationRequested,
    int MaxAttempts,
    int Failures)
{
    public bool IsFinished => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>The state after <paramref name="e"/>; null before the job was submitted.</summary>
    public static Job Evolve(Job? state, JobEvent e) => (state, e) switch
    {
        (null, JobSubmitted s) => new Job(s.JobId, s.Type, JobStatus.Queued, Attempt: 0, Progress: 0, CancellationRequested: false, s.MaxAttempts, Failures: 0),
        (null, _) => throw new InvalidOperationException($"A job's stream must start with {nameof(JobSubmitted)}, not {e.GetType().Name}."),
        (_, JobStarted s) => state with { Status = JobStatus.Processing, Attempt = s.Attempt, Progress = 0 },
        (_, JobProgressed p) => state with { Progress = p.Percent },
        (_, JobCompleted) => state with { Status = JobStatus.Completed, Progress = 100 },
        (_, JobAttemptFailed) => state with { Status = JobStatus.Queued, Progress = 0, Failures = state.Failures + 1 },
        (_, JobFailed) => state with { Status = JobStatus.Failed, Failures = state.Failures + 1 },
        (_, JobReleased) => state with { Status = JobStatus.Queued, Progress = 0 },
        (_, JobRedriven) => state with { Status = JobStatus.Queued, Progress = 0, Failures = 0 },
        (_, JobCancellationRequested) => state with { CancellationRequested = true },
        (_, JobCancelled) => state with { Status = JobStatus.Cancelled },
        _ => state,
    };

    public static Job? Fold(IEnumerable<JobEvent> events) => events.Aggregate((Job?)null, Evolve);
}
