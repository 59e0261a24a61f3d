namespace EventSourced.Api.JobTypes;

/// <summary>What a running handler can see of its job and tell about it.</summary>
public sealed class JobContext(Guid jobId, int attempt, Func<int, string?, CancellationToken, Task> reportProgress)
{
    public Guid JobId { get; } = jobId;

    /// <summary>1 for the first run; every start counts, a retry's and a hand-back's alike.</summary>
    public int Attempt { get; } = attempt;

    /// <summary>
    /// Records progress as an event clients see within moments: a report is held up to 20 ms, so that reports made together, and a
    /// last report with the attempt's outcome, share one append. Percent is 0 to 100 and never goes back within an attempt; a report
    /// that breaks either rule throws at once. One the store refuses (the job moved on without this attempt) throws at the next report.
    /// </summary>
    public Task ReportProgress(int percent, string? message = null, CancellationToken ct = default) => reportProgress(percent, message, ct);
}
