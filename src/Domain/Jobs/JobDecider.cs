using static EventSourced.Domain.Jobs.JobCommand;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Domain.Jobs;

/// <summary>Decides what a command produces from a job's current state. Pure: no I/O, and the clock comes in as <c>now</c>.</summary>
public static class JobDecider
{
    public static IReadOnlyList<JobEvent> Decide(JobCommand command, Job? state, DateTimeOffset now) => (command, state) switch
    {
        (SubmitJob c, null) => [new JobSubmitted(
            c.JobId, c.Type, c.Input, c.CallbackUrl, c.CorrelationId, c.Fingerprint, c.IdempotencyKey, c.MaxAttempts, c.TimeoutSeconds, c.Backoff, now,
            c.KeyGeneration, c.CallbackEvents)],
        (SubmitJob c, _) => throw new JobRuleViolation(ViolationKind.Conflict, "job_exists", $"Job {c.JobId} was already submitted."),
        (_, null) => throw new JobRuleViolation(ViolationKind.NotFound, "job_not_found", "There is no such job."),

        (StartJob c, { Status: JobStatus.Queued } job) => [new JobStarted(job.Id, job.Attempt + 1, c.Worker, now)],
        (StartJob, var job) => throw NotInState(job, "started", "queued"),

        (ReportProgress { Percent: < 0 or > 100 } c, _) =>
            throw new JobRuleViolation(ViolationKind.InvalidValue, "progress_out_of_range", $"Progress is a percent from 0 to 100, not {c.Percent}."),

        // Only the holder of the current attempt speaks for a running job.
        (IFromHolder c, var job) when job.Status != JobStatus.Processing || job.Attempt != c.Attempt => throw NotHeld(job, c),

        (ReportProgress c, var job) when c.Percent < job.Progress =>
            throw new JobRuleViolation(ViolationKind.Conflict, "progress_backwards", $"Progress of job {job.Id} is {job.Progress}%; it cannot go back to {c.Percent}%."),
        (ReportProgress c, var job) => [new JobProgressed(job.Id, job.Attempt, c.Percent, c.Message, now)],

        (CompleteJob c, var job) => [new JobCompleted(job.Id, c.Result, c.ResultContentType, now)],

        (ExpireAttempt c, { IsSuspended: true } job) => Decide(new FailAttempt(c.Attempt, "wait_timed_out",
            $"No word from the {job.WaitingFor} by {job.WaitingUntil:u}.", c.Jitter, Retryable: false), job, now),
        (ExpireAttempt c, var job) => Decide(new FailAttempt(c.Attempt, "lease_expired",
            "The runner of this attempt stopped renewing its lease: its process died or stopped responding.", c.Jitter), job, now),

        // A failure, a hand-back or a wait while a cancellation is pending ends the job as the client asked.
        (FailAttempt or ReleaseJob or SuspendJob, { CancellationRequested: true } job) => [new JobCancelled(job.Id, now)],
        (SuspendJob c, _) when c.Until <= now =>
            throw new JobRuleViolation(ViolationKind.InvalidValue, "wait_in_the_past", $"A wait must end in the future, not at {c.Until:u}."),
        (SuspendJob c, var job) => [new JobSuspended(job.Id, job.Attempt, c.WaitingFor, c.Until, now)],
        (FailAttempt c, var job) when !c.Retryable || job.Attempt >= job.MaxAttempts =>
            [new JobFailed(job.Id, job.Attempt, new JobError(c.ErrorCode, c.ErrorMessage), now)],
        (FailAttempt c, var job) =>
            [new JobAttemptFailed(job.Id, job.Attempt, new JobError(c.ErrorCode, c.ErrorMessage), now + job.Backoff.Delay(job.Failures + 1, c.Jitter), now)],
        (ReleaseJob c, var job) => [new JobReleased(job.Id, job.Attempt, c.Reason, now)],

        (ConfirmCancellation, { CancellationRequested: true } job) => [new JobCancelled(job.Id, now)],
        (ConfirmCancellation, var job) =>
            throw new JobRuleViolation(ViolationKind.Conflict, "cancellation_not_requested", $"Nobody asked to cancel job {job.Id}."),

        // Cancelling is idempotent: asking again changes nothing. A job that ended otherwise cannot be cancelled.
        (CancelJob, { Status: JobStatus.Cancelled }) => [],
        (CancelJob, { IsFinished: true } job) => throw NotInState(job, "cancelled", "queued or processing"),
        // Nobody runs a queued or a suspended job: there is no runner to ask, it is cancelled at once.
        (CancelJob c, var job) when job.Status == JobStatus.Queued || job.IsSuspended =>
            [new JobCancellationRequested(job.Id, c.Reason, now), new JobCancelled(job.Id, now)],
        (CancelJob, { CancellationRequested: true }) => [],
        (CancelJob c, var job) => [new JobCancellationRequested(job.Id, c.Reason, now)],

        (RedriveJob c, { Status: JobStatus.Failed } job) => [new JobRedriven(job.Id, c.Reason, now, c.MaxAttempts, c.TimeoutSeconds)],
        (RedriveJob, var job) =>
            throw new JobRuleViolation(ViolationKind.Conflict, "job_not_failed", $"Job {job.Id} is {Name(job.Status)}; only a failed job can be retried."),

        _ => throw new ArgumentOutOfRangeException(nameof(command), command, "Unknown job command."),
    };

    /// <summary>
    /// Decides <paramref name="commands"/> in turn, each on the job as the ones before it left it (a runner's held progress
    /// reports and its outcome, appended together): all their events, or the first refusal.
    /// </summary>
    public static IReadOnlyList<JobEvent> Decide(IEnumerable<JobCommand> commands, Job state, DateTimeOffset now)
    {
        var events = new List<JobEvent>();
        foreach (var command in commands)
        {
            var decided = Decide(command, state, now);
            events.AddRange(decided);
            state = decided.Aggregate(state, Job.Evolve);
        }
        return events;
    }

    private static JobRuleViolation NotHeld(Job job, IFromHolder command) =>
        job.IsFinished || job.Attempt == 0
            ? NotInState(job, "changed by a runner", "processing")
            : new JobRuleViolation(ViolationKind.Conflict, "attempt_superseded",
                $"Attempt {command.Attempt} of job {job.Id} is over: the job is {Name(job.Status)} at attempt {job.Attempt}.");

    private static JobRuleViolation NotInState(Job job, string action, string required) => job.IsFinished
        ? new JobRuleViolation(ViolationKind.Conflict, "job_already_finished", $"Job {job.Id} already finished ({Name(job.Status)}); it cannot be {action}.")
        : new JobRuleViolation(ViolationKind.Conflict, "job_not_" + required.Split(' ')[0], $"Job {job.Id} is {Name(job.Status)}; only a job that is {required} can be {action}.");

    public static string Name(JobStatus status) => status.ToString().ToLowerInvariant();
}
