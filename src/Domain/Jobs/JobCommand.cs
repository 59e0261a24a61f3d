using System.Text.Json;

namespace EventSourced.Domain.Jobs;

/// <summary>What can be asked of a job. A closed hierarchy, like the events.</summary>
public abstract record JobCommand
{
    private JobCommand()
    {
    }

    public sealed record SubmitJob(
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
        int KeyGeneration = 0,
        IReadOnlyList<string>? CallbackEvents = null) : JobCommand;

    public sealed record StartJob(string Worker) : JobCommand;

    public sealed record ReportProgress(int Attempt, int Percent, string? Message) : JobCommand, IFromHolder;

    public sealed record CompleteJob(int Attempt, JsonElement Result, string ResultContentType) : JobCommand, IFromHolder;

    /// <summary>
    /// The attempt failed. Another is scheduled after a delay drawn from the job's backoff with
    /// <paramref name="Jitter"/> (a random number from 0 to 1, drawn by the caller), unless the attempts
    /// are used up or the error is not <paramref name="Retryable"/>.
    /// </summary>
    public sealed record FailAttempt(int Attempt, string ErrorCode, string ErrorMessage, double Jitter, bool Retryable = true)
        : JobCommand, IFromHolder;

    /// <summary>The attempt's outcome will come from <paramref name="WaitingFor"/>, by <paramref name="Until"/> at the latest.</summary>
    public sealed record SuspendJob(int Attempt, string WaitingFor, DateTimeOffset Until) : JobCommand, IFromHolder;

    /// <summary>
    /// The attempt's time is up with nobody to say how it went: its runner stopped renewing its lease (a failed attempt,
    /// retried), or a suspended job heard nothing by its deadline (a failure for good: the outside party may still act on
    /// the first attempt, so a second could, say, charge twice).
    /// </summary>
    public sealed record ExpireAttempt(int Attempt, double Jitter) : JobCommand, IFromHolder;

    /// <summary>Its runner gives the job back unfinished, to be run again at once.</summary>
    public sealed record ReleaseJob(int Attempt, string Reason) : JobCommand, IFromHolder;

    /// <summary>The runner stopped the work after a cancellation request.</summary>
    public sealed record ConfirmCancellation(int Attempt) : JobCommand, IFromHolder;

    public sealed record CancelJob(string? Reason) : JobCommand;

    /// <summary>
    /// Sends a failed job (a dead letter) back to the queue, with a fresh set of attempts: <paramref name="MaxAttempts"/> of them
    /// when given, and <paramref name="TimeoutSeconds"/> for each when given; otherwise as the job had.
    /// </summary>
    public sealed record RedriveJob(string? Reason, int? MaxAttempts = null, int? TimeoutSeconds = null) : JobCommand;
}

/// <summary>A command only the holder of the job's current attempt may give: a holder whose attempt was superseded is refused.</summary>
public interface IFromHolder
{
    int Attempt { get; }
}
