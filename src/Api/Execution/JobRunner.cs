using EventSourced.Api.JobTypes;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.EventStore.Notifications;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Microsoft.Extensions.Options;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Execution;

public sealed class RunnerOptions
{
    /// <summary>Whether this node runs jobs at all (an API-only node sets false).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How many jobs this node runs at once, all types together.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>How often it looks for due jobs when no notification woke it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a claim holds a job; renewed every third of it while the handler runs.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>On shutdown, how long running handlers may take to finish before they are stopped and their jobs handed back.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How this node signs the events it appends and the leases it holds (default: host name and process id).</summary>
    public string? WorkerName { get; set; }

    public string Worker => WorkerName ?? $"{Environment.MachineName}:{Environment.ProcessId}";
}

/// <summary>
/// Runs jobs inside the API process. It claims due jobs (each exactly once, however many nodes race)
/// with a lease it keeps renewing, runs their handler under the attempt's time-out, and records the
/// outcome: completed, a failed attempt retried after a jittered backoff, failed for good, cancelled,
/// or handed back when the node shuts down. Every node also sweeps expired leases, so a job whose node
/// died is retried elsewhere. A new job wakes it at once through the store's notifications.
/// </summary>
public sealed class JobRunner(
    JobQueue queue,
    JobLeases leases,
    JobQueries queries,
    JobTypeRegistry types,
    JobStreams streams,
    EventNotifications notifications,
    StreamWatchers watchers,
    TimeProvider clock,
    IOptions<RunnerOptions> options,
    ILogger<JobRunner> logger) : BackgroundService, IHostedLifecycleService
{
    // After a look that found nothing, the next waits at least this long, however many appends wake
    // it: under a stream of appends a runner would otherwise query for work thousands of times a second.
    private static readonly TimeSpan IdleLookInterval = TimeSpan.FromMilliseconds(10);

    private readonly RunnerOptions _options = options.Value;
    private readonly string _worker = options.Value.Worker;
    private readonly WakeOnAnyAppend _wakeup = new();

    public Task StartingAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>
    /// Drains before any hosted service stops: the host stops them one at a time in reverse order, and those stopped
    /// before this one (Wolverine's among them) take down what the handlers still need to record their outcome.
    /// </summary>
    public Task StoppingAsync(CancellationToken ct) => StopAsync(ct);

    public Task StoppedAsync(CancellationToken ct) => Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (!_options.Enabled)
            return;
        using var subscription = notifications.Subscribe(_wakeup);
        // Fires once the drain time is up: handlers still running are stopped and their jobs handed back.
        using var abort = new CancellationTokenSource();
        var running = new Dictionary<Task, string>();

        while (!stopping.IsCancellationRequested)
        {
            foreach (var done in running.Keys.Where(t => t.IsCompleted).ToList())
                running.Remove(done);
            var idle = true;
            try
            {
                var claimed = await ClaimWhatFits(running);
                foreach (var job in claimed)
                    running[Run(job, abort.Token)] = job.Submitted.Type;
                idle = claimed.Count == 0;
            }
            catch (Exception e)
            {
                logger.LogWarning("Could not claim jobs: {Error}", e.Message);
            }
            try
            {
                if (idle)
                    await Task.Delay(IdleLookInterval, stopping);
                await _wakeup.Signal.Wait(_options.PollInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        var all = Task.WhenAll(running.Keys);
        if (running.Count > 0 && await Task.WhenAny(all, Task.Delay(_options.DrainTimeout, CancellationToken.None)) != all)
        {
            logger.LogWarning("Handing back {Count} unfinished jobs: the drain time of {Drain} is up.", running.Count(r => !r.Key.IsCompleted), _options.DrainTimeout);
            await abort.CancelAsync();
        }
        await all;
    }

    /// <summary>Claims as many jobs as this node has room for: in total, and for each type with a limit of its own.</summary>
    /// <remarks>
    /// Not cancelled by the shutdown: a claim cut off mid-way threw past the loop, which then left without draining the jobs
    /// already running (their outcomes unrecorded until their leases ran out), and could drop jobs it had just taken.
    /// </remarks>
    private async Task<List<ClaimedJob>> ClaimWhatFits(Dictionary<Task, string> running)
    {
        var ct = CancellationToken.None;
        var claimed = new List<ClaimedJob>();
        var free = _options.Concurrency - running.Count;
        var inProcess = types.All.Where(t => t.RunsInProcess).ToList();
        string[] unlimited = [.. inProcess.Where(t => t.Concurrency is null).Select(t => t.Name)];
        if (free > 0 && unlimited.Length > 0)
            claimed.AddRange(await queue.Claim(free, unlimited, onlyTenant: null, _worker, _worker, _options.LeaseDuration, ct));
        foreach (var type in inProcess.Where(t => t.Concurrency is not null))
        {
            var room = Math.Min(free - claimed.Count, type.Concurrency!.Value - running.Values.Count(t => t == type.Name));
            if (room > 0)
                claimed.AddRange(await queue.Claim(room, [type.Name], onlyTenant: null, _worker, _worker, _options.LeaseDuration, ct));
        }
        if (claimed.Count > 0)
            _wakeup.Signal.Set(); // there may be more due: look again straight away
        return claimed;
    }

    private async Task Run(ClaimedJob claimed, CancellationToken abort)
    {
        var submitted = claimed.Submitted;
        var type = types.Find(submitted.Type)!;
        var attempt = claimed.State.Attempt;
        var execution = new JobExecution(
            new JobAt(submitted.JobId, claimed.TenantId, claimed.State, claimed.Version, Job.CorrelationOf(submitted.JobId, submitted.CorrelationId)),
            streams, new EventMetadata(Actor: _worker), clock, _options.LeaseDuration, logger);

        using var cancelRequested = new CancellationTokenSource();
        using var leaseLost = new CancellationTokenSource();
        var timeoutSeconds = claimed.State.TimeoutSeconds ?? submitted.TimeoutSeconds;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds), clock);
        using var handler = CancellationTokenSource.CreateLinkedTokenSource(abort, cancelRequested.Token, leaseLost.Token, timeout.Token);
        using var finished = new CancellationTokenSource();
        var keeping = KeepLease(claimed.Lease, claimed.TenantId, execution, cancelRequested, leaseLost, finished.Token);

        JobCommand? outcome;
        try
        {
            var context = new JobContext(submitted.JobId, attempt, (percent, message, _) => execution.Report(new ReportProgress(attempt, percent, message)));
            var output = await type.Run!(submitted.Input, context, handler.Token);
            outcome = output.Wait is var (party, wait)
                ? new SuspendJob(attempt, party, clock.GetUtcNow() + wait)
                : new CompleteJob(attempt, output.Result, output.ContentType);
        }
        catch (OperationCanceledException) when (handler.IsCancellationRequested)
        {
            outcome =
                leaseLost.IsCancellationRequested ? null // the attempt is someone else's now: there is nothing left to say
                : cancelRequested.IsCancellationRequested ? new ConfirmCancellation(attempt)
                : abort.IsCancellationRequested ? new ReleaseJob(attempt, $"{_worker} shut down before the job finished.")
                : Failure(attempt, "timeout", $"The attempt ran past its time-out of {timeoutSeconds} s.");
        }
        catch (JobRuleViolation v) when (v.Kind == ViolationKind.Conflict && v.Code != "progress_backwards")
        {
            outcome = null; // the job moved on without this attempt (cancelled, superseded): nothing to record
        }
        catch (JobRuleViolation v)
        {
            // The handler broke a rule of jobs: a bug that a retry would repeat.
            outcome = Failure(attempt, v.Code, v.Message, retryable: false);
        }
        catch (Exception e)
        {
            outcome = Failure(attempt, "handler_error", $"{e.GetType().Name}: {e.Message}");
        }
        finally
        {
            await finished.CancelAsync();
            await keeping;
        }

        if (outcome is not null)
            await Record(execution, outcome, claimed.Lease.Token);
        _wakeup.Signal.Set(); // a slot is free
    }

    private static FailAttempt Failure(int attempt, string code, string message, bool retryable = true) =>
        new(attempt, code, message, Random.Shared.NextDouble(), retryable);

    /// <summary>
    /// Records the attempt's outcome and gives up its lease with it (a suspended job's sweep then holds it till the wait is over).
    /// When the outcome cannot be recorded (the lease was lost, the database is away) the lease stays for the sweep, which turns it
    /// into a retry: giving it up would leave the job processing with nobody to finish it.
    /// </summary>
    private async Task Record(JobExecution execution, JobCommand outcome, Guid leaseToken)
    {
        try
        {
            await execution.Finish(outcome, leaseToken);
        }
        catch (JobRuleViolation v)
        {
            logger.LogInformation("Job {JobId} moved on before its {Outcome} was recorded: {Reason}", execution.JobId, outcome.GetType().Name, v.Message);
        }
        catch (Exception e)
        {
            // The lease runs out, and the sweep retries the job: the attempt is not lost.
            logger.LogError("Could not record {Outcome} for job {JobId}: {Error}", outcome.GetType().Name, execution.JobId, e.Message);
        }
    }

    /// <summary>
    /// Renews the lease every third of its duration, and watches the job's stream so that a
    /// cancellation request (appended by any node) fires the handler's token at once. The runner's
    /// own appends move the stream too: only a move past them is worth a look. Renewals keep the lease's length.
    /// </summary>
    private async Task KeepLease(
        Lease lease, string tenantId, JobExecution execution, CancellationTokenSource cancelRequested, CancellationTokenSource leaseLost, CancellationToken finished)
    {
        using var watch = watchers.Watch(lease.JobId);
        var renewEvery = _options.LeaseDuration / 3;
        var nextRenewal = clock.GetUtcNow() + renewEvery;
        try
        {
            while (!finished.IsCancellationRequested)
            {
                var untilRenewal = Max(nextRenewal - clock.GetUtcNow(), TimeSpan.Zero);
                var moved = await watch.WaitForAppend(untilRenewal, finished);
                try
                {
                    if (!moved)
                    {
                        var renewed = await leases.Renew(lease.JobId, lease.Token, null, null, finished);
                        if (renewed is null)
                        {
                            logger.LogWarning("Lost the lease of job {JobId}, attempt {Attempt}: stopping its handler.", lease.JobId, lease.Attempt);
                            await leaseLost.CancelAsync();
                            return;
                        }
                        nextRenewal = clock.GetUtcNow() + renewEvery;
                        if (renewed.Value.CancellationRequested)
                            await cancelRequested.CancelAsync();
                    }
                    else if (watch.LatestVersion > execution.Version
                        && (await queries.Status(lease.JobId, tenantId, finished))?.State.CancellationRequested == true)
                    {
                        await cancelRequested.CancelAsync();
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The database is away: keep trying until the lease itself runs out.
                    logger.LogWarning("Could not renew the lease of job {JobId}: {Error}", lease.JobId, e.Message);
                    nextRenewal = clock.GetUtcNow() + TimeSpan.FromSeconds(1);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
