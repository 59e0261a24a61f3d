using EventSourced.Api.Jobs;
using EventSourced.Api.JobTypes;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using Microsoft.Extensions.Options;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Execution;

public sealed class RunnerOptions
{
    /// <summary>Whether this node runs jobs at all (an API-only node sets false).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How many jobs this node runs at once.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>How often it looks for due jobs when no notification woke it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How this node signs the events it appends (default: host name and process id).</summary>
    public string? WorkerName { get; set; }
}

/// <summary>
/// Runs jobs inside the API process: claims due jobs (each exactly once, however many nodes race),
/// runs their handler, and records progress and the outcome as events. A new job wakes it at once
/// through the store's notifications; the poll is the safety net.
/// </summary>
public sealed class JobRunner(
    JobQueue queue,
    JobQueries queries,
    JobTypeRegistry types,
    JobCommands commands,
    EventNotifications notifications,
    StreamWatchers watchers,
    IOptions<RunnerOptions> options,
    ILogger<JobRunner> logger) : BackgroundService
{
    private readonly RunnerOptions _options = options.Value;
    private readonly string _worker = options.Value.WorkerName ?? $"{Environment.MachineName}:{Environment.ProcessId}";

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (!_options.Enabled)
            return;
        var wakeup = new Wakeup();
        using var subscription = notifications.Subscribe(wakeup);
        var running = new List<Task>();
        string[] typeNames = [.. types.Names];

        while (!stopping.IsCancellationRequested)
        {
            running.RemoveAll(t => t.IsCompleted);
            var free = _options.Concurrency - running.Count;
            if (free > 0)
            {
                try
                {
                    var claimed = await queue.Claim(free, typeNames, _worker, stopping);
                    running.AddRange(claimed.Select(job => Run(job, wakeup, stopping)));
                    if (claimed.Count == free)
                        continue;
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning("Could not claim jobs: {Error}", e.Message);
                }
            }
            try
            {
                await wakeup.Signal.Wait(_options.PollInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(running);
    }

    private async Task Run(ClaimedJob claimed, Wakeup wakeup, CancellationToken stopping)
    {
        var jobId = claimed.Submitted.JobId;
        var execution = new JobExecution(jobId, new JobSnapshot(claimed.State, claimed.Version), commands,
            new EventMetadata(claimed.Submitted.CorrelationId, null, _worker));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var watching = StopWhenCancellationIsRequested(jobId, cancel);
        try
        {
            var type = types.Find(claimed.Submitted.Type)!;
            var context = new JobContext(jobId, claimed.State.Attempt, (percent, message, ct) => execution.Execute(new ReportProgress(percent, message), ct));
            var output = await type.Run(claimed.Submitted.Input, context, cancel.Token);
            await execution.Execute(new CompleteJob(output.Result, output.ContentType), stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogInformation("Job {JobId} was interrupted by shutdown.", jobId);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Record(execution, new ConfirmCancellation(), stopping);
        }
        catch (JobRuleViolation v)
        {
            // The handler broke a rule (progress going backwards, say): the job fails and says why.
            await Record(execution, new FailJob(v.Code, v.Message), stopping);
        }
        catch (Exception e)
        {
            await Record(execution, new FailJob("handler_error", $"{e.GetType().Name}: {e.Message}"), stopping);
        }
        finally
        {
            await cancel.CancelAsync();
            await watching;
            wakeup.Signal.Set(); // a slot is free
        }
    }

    private async Task Record(JobExecution execution, JobCommand outcome, CancellationToken ct)
    {
        try
        {
            await execution.Execute(outcome, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError("Could not record {Outcome} for job {JobId}: {Error}", outcome.GetType().Name, execution.JobId, e.Message);
        }
    }

    /// <summary>Fires the handler's token when someone asks to cancel the job, on whichever node they asked.</summary>
    private async Task StopWhenCancellationIsRequested(Guid jobId, CancellationTokenSource cancel)
    {
        using var watch = watchers.Watch(jobId);
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                if (await queries.CancellationRequested(jobId, cancel.Token))
                {
                    await cancel.CancelAsync();
                    return;
                }
                await watch.WaitForAppend(_options.PollInterval * 5, cancel.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            logger.LogWarning("Stopped watching job {JobId} for cancellation: {Error}", jobId, e.Message);
        }
    }

    private sealed class Wakeup : INotificationSubscriber
    {
        public AsyncSignal Signal { get; } = new();
        public void Appended(StreamAppended appended) => Signal.Set();
        public void Resync() => Signal.Set();
    }
}

/// <summary>One running job as its runner sees it: the latest state and version, and its appends, one at a time.</summary>
public sealed class JobExecution(Guid jobId, JobSnapshot snapshot, JobCommands commands, EventMetadata metadata)
{
    private readonly SemaphoreSlim _appending = new(1, 1);

    public Guid JobId => jobId;

    public async Task Execute(JobCommand command, CancellationToken ct)
    {
        await _appending.WaitAsync(ct);
        try
        {
            snapshot = await commands.Execute(jobId, command, metadata, known: snapshot, ct: ct);
        }
        finally
        {
            _appending.Release();
        }
    }
}
