using EventSourced.Api.Jobs;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Npgsql;

namespace EventSourced.Api.Execution;

/// <summary>One running job as its runner sees it: the latest state and version, and its appends, one at a time.</summary>
public sealed class JobExecution(Guid jobId, JobSnapshot snapshot, JobCommands commands, EventMetadata metadata, TimeSpan patience, ILogger logger)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _appending = new(1, 1);

    public Guid JobId => jobId;

    /// <summary>The sequence number of the last event this runner knows of: anything later was appended by someone else.</summary>
    public long LastSeq => snapshot.LastSeq;

    /// <summary>
    /// Records a command. A database that is briefly away (a restart) is waited for, up to the lease's
    /// length: a progress report or an outcome is not lost to a blip. After that the lease has run out
    /// anyway, and the sweep retries the job.
    /// </summary>
    public async Task Execute(JobCommand command, CancellationToken ct)
    {
        await _appending.WaitAsync(ct);
        try
        {
            var deadline = DateTime.UtcNow + patience;
            var delay = TimeSpan.FromMilliseconds(100);
            while (true)
            {
                try
                {
                    snapshot = await commands.Execute(jobId, command, metadata, known: snapshot, ct: ct);
                    return;
                }
                catch (NpgsqlException e) when (e.IsTransient && DateTime.UtcNow + delay < deadline)
                {
                    logger.LogWarning("Job {JobId}: the database is away ({Error}); trying again in {Delay} ms.", jobId, e.Message, delay.TotalMilliseconds);
                    await Task.Delay(delay, ct);
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
