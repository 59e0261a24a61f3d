using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using JasperFx;

namespace EventSourced.Api.Execution;

/// <summary>
/// One running job as its runner sees it: the state and version after the runner's last append, and its
/// appends, one at a time, through group commit (a node's runners report together, so they share commits).
/// </summary>
public sealed class JobExecution(
    Guid jobId, string tenantId, Job state, long version, GroupCommit commits, JobQueries queries, EventMetadata metadata,
    TimeProvider clock, TimeSpan patience, ILogger logger)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _appending = new(1, 1);

    public Guid JobId => jobId;

    /// <summary>The version after this runner's last append: a later one was appended by someone else (a cancellation).</summary>
    public long Version => version;

    /// <summary>
    /// Decides <paramref name="command"/> on the state this runner holds and appends at its version. When someone
    /// else appended meanwhile, it reads the job again and decides again; a refusal counts only once decided on a
    /// fresh read. A database that is briefly away (a restart) is waited for, up to the lease's length: a progress
    /// report or an outcome is not lost to a blip. After that the lease has run out anyway, and the sweep retries the job.
    /// </summary>
    public async Task Execute(JobCommand command, CancellationToken ct)
    {
        await _appending.WaitAsync(ct);
        try
        {
            var deadline = clock.GetUtcNow() + patience;
            var delay = TimeSpan.FromMilliseconds(100);
            var (conflicts, fresh) = (0, false);
            while (true)
            {
                try
                {
                    var events = JobDecider.Decide(command, state, clock.GetUtcNow());
                    if (events.Count == 0)
                        return;
                    var appended = await commits.Append(new StreamAppend(jobId, tenantId, version, [.. events], metadata, typeof(Job)), ct);
                    (state, version) = (events.Aggregate(state, Job.Evolve), appended.Version);
                    return;
                }
                catch (JobRuleViolation) when (!fresh)
                {
                    // The state held may be stale (someone asked to cancel meanwhile): only a fresh read may refuse.
                    fresh = await ReadAgain(ct);
                }
                catch (ConcurrencyException) when (++conflicts < Conflicts.MaxRetries)
                {
                    fresh = await ReadAgain(ct);
                }
                catch (Exception e) when (GroupCommit.IsTransient(e) && clock.GetUtcNow() + delay < deadline)
                {
                    logger.LogWarning("Job {JobId}: the database is away ({Error}); trying again in {Delay} ms.", jobId, e.Message, delay.TotalMilliseconds);
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

    private async Task<bool> ReadAgain(CancellationToken ct)
    {
        var view = await queries.Status(jobId, tenantId, ct) ?? throw JobRuleViolation.NotFound(jobId);
        (state, version) = (view.State, view.Version);
        return true;
    }
}
