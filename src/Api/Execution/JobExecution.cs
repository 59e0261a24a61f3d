using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Scheduling;

namespace EventSourced.Api.Execution;

/// <summary>
/// One running job as its runner sees it: the job as of the runner's last append, and its appends, one at a time,
/// through the write port (a node's runners report together, so they share commits).
/// </summary>
public sealed class JobExecution(JobAt job, JobStreams streams, EventMetadata metadata, TimeProvider clock, TimeSpan patience, ILogger logger)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _appending = new(1, 1);

    public Guid JobId => job.Id;

    /// <summary>The version after this runner's last append: a later one was appended by someone else (a cancellation).</summary>
    public long Version => job.Version;

    /// <summary>
    /// Decides <paramref name="command"/> on the job as this runner holds it, through the write port (which decides again on a
    /// fresh read when someone else appended meanwhile, and counts a refusal only on one). A database that is briefly away
    /// (a restart) is waited for, up to the lease's length: a progress report or an outcome is not lost to a blip. After that
    /// the lease has run out anyway, and the sweep retries the job.
    /// </summary>
    public async Task Execute(JobCommand command, CancellationToken ct)
    {
        await _appending.WaitAsync(ct);
        try
        {
            var deadline = clock.GetUtcNow() + patience;
            var delay = TimeSpan.FromMilliseconds(100);
            while (true)
            {
                try
                {
                    job = (await streams.Execute(job, command, metadata, ct)).Job;
                    return;
                }
                catch (Exception e) when (GroupCommit.IsTransient(e) && clock.GetUtcNow() + delay < deadline)
                {
                    logger.LogWarning("Job {JobId}: the database is away ({Error}); trying again in {Delay} ms.", job.Id, e.Message, delay.TotalMilliseconds);
                    await Task.Delay(delay, clock, ct);
                    delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
                }
            }
        }
        finally
        {
            _appending.Release();
        }
    }
}
