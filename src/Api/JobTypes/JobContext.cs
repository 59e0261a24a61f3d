namespace EventSourced.Api.JobTypes;

/// <summary>What a running handler can see of its job and tell about it.</summary>
public sealed class JobContext(Guid jobId, int attempt, Func<int, string?, CancellationToken, Task> reportProgress)
{
    public Guid JobId { get; } = jobId;

    /// <summary>1 for the first run; every start counts, a retry's and a hand-back's alike.</summary>
    public int Attempt { get; } = attempt;

    /// <summary>Records progress as an event clients see at once. Percent is 0 to 100 and never goes back within an attempt.</summary>
    public Task ReportProgress(int percent, string? message = null, CancellationToken ct = default) => reportProgress(percent, message, ct);
}
