using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Scheduling;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Execution;

/// <summary>
/// One running job as its runner sees it: the job as of the runner's last append, and its appends, one at a time, through the
/// write port (a node's runners report together, so they share commits). Progress reports are held for
/// <see cref="ProgressHold"/> and appended together, or with the attempt's outcome when it comes first: a handler that reports
/// 100 % and returns costs one append, not two, and one that reports in a tight loop costs an append per hold, not per report.
/// </summary>
public sealed class JobExecution(JobAt job, JobStreams streams, EventMetadata metadata, TimeProvider clock, TimeSpan patience, ILogger logger)
{
    /// <summary>
    /// How long a progress report waits for others, or for the outcome, to share its append. A client sees a report this much later at
    /// most; measured with ./bench jobs, holding none cost a second append per job (an append waits for the group commit in flight).
    /// </summary>
    public static readonly TimeSpan ProgressHold = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    // Appends of a job go one after another: each expects the version the one before left.
    private readonly SemaphoreSlim _appending = new(1, 1);

    // Reports not yet appended, the job as they leave it (to check each report as it comes), and the store's refusal of reports
    // already given back to their handler (thrown at its next report). Guarded by _held.
    private readonly List<JobCommand> _held = [];
    private Job _reported = job.State;
    private Exception? _heldRefused;

    public Guid JobId => job.Id;

    /// <summary>The version after this runner's last append: a later one was appended by someone else (a cancellation).</summary>
    public long Version => job.Version;

    /// <summary>
    /// Holds a progress report to append within <see cref="ProgressHold"/>. A report that breaks a rule (out of range, backwards)
    /// is refused at once; one the store refuses (the job moved on without this attempt) is thrown at the handler's next report.
    /// </summary>
    public Task Report(ReportProgress report)
    {
        lock (_held)
        {
            if (_heldRefused is { } refused)
            {
                _heldRefused = null;
                return Task.FromException(refused);
            }
            try
            {
                _reported = JobDecider.Decide(report, _reported, clock.GetUtcNow()).Aggregate(_reported, Job.Evolve);
            }
            catch (JobRuleViolation v)
            {
                return Task.FromException(v);
            }
            _held.Add(report);
            if (_held.Count == 1)
                _ = AppendHeldSoon();
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Records the attempt's <paramref name="outcome"/>, after the reports still held and in the same append, and gives up the lease
    /// <paramref name="leaseToken"/> holds in its transaction: the lease goes only with a recorded outcome.
    /// </summary>
    public async Task Finish(JobCommand outcome, Guid leaseToken)
    {
        await _appending.WaitAsync();
        try
        {
            await Append([.. TakeHeld(), outcome], leaseToken);
        }
        finally
        {
            _appending.Release();
        }
    }

    private async Task AppendHeldSoon()
    {
        await Task.Delay(ProgressHold, clock);
        await _appending.WaitAsync();
        try
        {
            if (TakeHeld() is { Count: > 0 } held)
                await Append(held, endingLease: null);
        }
        catch (Exception e)
        {
            lock (_held)
                _heldRefused = e;
        }
        finally
        {
            _appending.Release();
        }
    }

    private List<JobCommand> TakeHeld()
    {
        lock (_held)
        {
            var held = _held.ToList();
            _held.Clear();
            return held;
        }
    }

    /// <summary>
    /// Decides <paramref name="commands"/> on the job as this runner holds it, through the write port (which decides again on a
    /// fresh read when someone else appended meanwhile, and counts a refusal only on one). A database that is briefly away
    /// (a restart) is waited for, up to the lease's length: a progress report or an outcome is not lost to a blip. After that
    /// the lease has run out anyway, and the sweep retries the job.
    /// </summary>
    private async Task Append(IReadOnlyList<JobCommand> commands, Guid? endingLease)
    {
        var deadline = clock.GetUtcNow() + patience;
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                job = (await streams.Execute(job, commands, metadata, CancellationToken.None, endingLease)).Job;
                return;
            }
            catch (Exception e) when (GroupCommit.IsTransient(e) && clock.GetUtcNow() + delay < deadline)
            {
                logger.LogWarning("Job {JobId}: the database is away ({Error}); trying again in {Delay} ms.", job.Id, e.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, clock);
                delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
            }
        }
    }
}
