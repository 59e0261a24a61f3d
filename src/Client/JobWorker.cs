using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSourced.Client;

/// <summary>
/// Runs external job types in your own app, as a hosted service (<see cref="JobWorkerRegistration.AddJobWorker"/>).
/// It claims jobs with a long poll, up to <see cref="JobWorkerOptions.Concurrency"/> at once; renews each lease every third
/// of it; turns a cancellation the heartbeat announces into the handler's token and then releases the job, which ends it
/// cancelled; completes with the handler's result or fails the attempt (retryable or not); stops a handler whose lease was
/// lost (a 409) and records nothing for it; and on shutdown cancels its handlers and releases their jobs, so they run
/// again at once elsewhere. The service away (a restart, the database down) is waited out with the client's backoff: it
/// never stops the host.
/// </summary>
public sealed class JobWorker : BackgroundService
{
    private readonly JobWorkerOptions _options;
    private readonly WorkerApi _api;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly HttpClient? _ownHttp;

    /// <summary>A worker on an HttpClient of its own (disposed with the worker).</summary>
    public JobWorker(JobWorkerOptions options, ILogger<JobWorker>? logger = null)
        // The service holds a claim for ClaimWait: the client waits longer than that for the answer.
        : this(new HttpClient { Timeout = options.ClaimWait + TimeSpan.FromSeconds(60) }, options, logger, ownsHttp: true)
    {
    }

    /// <summary>A worker on your HttpClient (from IHttpClientFactory, say), whose Timeout must be longer than <see cref="JobWorkerOptions.ClaimWait"/>.</summary>
    public JobWorker(HttpClient http, JobWorkerOptions options, ILogger<JobWorker>? logger = null)
        : this(http, options, logger, ownsHttp: false)
    {
    }

    private JobWorker(HttpClient http, JobWorkerOptions options, ILogger? logger, bool ownsHttp)
    {
        options.Validate();
        _options = options;
        _api = new WorkerApi(new ApiTransport(http, new JobsClientOptions { BaseAddress = options.BaseAddress, ApiKey = options.ApiKey, Retry = options.Retry }));
        _logger = logger ?? NullLogger.Instance;
        _name = options.WorkerName ?? $"{Environment.MachineName}/{Environment.ProcessId}";
        _ownHttp = ownsHttp ? http : null;
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var types = _options.Handlers.Keys.ToList();
        using var slots = new SemaphoreSlim(_options.Concurrency);
        var running = new HashSet<Task>();
        var failures = 0;
        try
        {
            while (true)
            {
                if (slots.CurrentCount == 0)
                    _logger.LogDebug("Running {Count} jobs, the most allowed: the next claim waits for one to end.", _options.Concurrency);
                await slots.WaitAsync(stopping);
                ClaimedWork? work;
                try
                {
                    work = await _api.ClaimAsync(types, _options.LeaseDuration, _options.ClaimWait, _name, stopping);
                    failures = 0;
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    // The service away, or refusing the claim (a key without the worker role, a type that is not external):
                    // said in the log, and tried again later, never a reason to stop the app.
                    slots.Release();
                    var wait = _options.Retry.DelayBefore(++failures);
                    _logger.LogWarning("Could not claim {Types}: {Error}. Trying again in {Wait}.", string.Join(", ", types), e.Message, wait);
                    await Task.Delay(wait, stopping);
                    continue;
                }
                if (work is null)
                {
                    slots.Release();
                    continue;
                }
                running.RemoveWhere(t => t.IsCompleted);
                // On the thread pool: a handler that blocks before its first await must not hold up the claims.
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await RunAsync(work, stopping);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: the running jobs see it on their handlers' tokens and release themselves.
        }
        await Task.WhenAll(running);
    }

    /// <summary>Runs one claimed job to its report: complete, fail, release, or nothing when the lease was lost.</summary>
    private async Task RunAsync(ClaimedWork work, CancellationToken stopping)
    {
        var lease = new LeaseState(work.LeaseExpiresAt);
        using var cancelRequested = new CancellationTokenSource();
        using var leaseLost = new CancellationTokenSource();
        using var handlerToken = CancellationTokenSource.CreateLinkedTokenSource(stopping, cancelRequested.Token, leaseLost.Token);
        using var stopHeartbeats = new CancellationTokenSource();
        var heartbeats = KeepLeaseAsync(work, lease, cancelRequested, leaseLost, stopHeartbeats.Token);

        var job = new JobContext(work, async (percent, message, ct) =>
        {
            try
            {
                await _api.ProgressAsync(work, percent, message, ct);
            }
            catch (Exception e) when (WorkerApi.IsLeaseLost(e))
            {
                LeaseLost(work, leaseLost, e);
                throw new OperationCanceledException("The job's lease was lost: stop working on it.", e, leaseLost.Token);
            }
        });

        JsonElement result = default;
        Exception? error = null;
        try
        {
            var handler = _options.Handlers[work.Type];
            var value = await handler(work.Input, job, handlerToken.Token);
            result = SerializeResult(value);
        }
        catch (Exception e)
        {
            error = e;
        }

        try
        {
            if (leaseLost.IsCancellationRequested)
                _logger.LogWarning("Job {JobId} attempt {Attempt}: its lease was lost, so its outcome is not recorded.", work.JobId, work.Attempt);
            else if (error is null)
                await ReportAsync(work, lease, "complete", ct => _api.CompleteAsync(work, result, ct));
            else if (cancelRequested.IsCancellationRequested)
                // The API's confirmation of a cancellation: a released job whose cancellation was asked ends cancelled.
                await ReportAsync(work, lease, "release", ct => _api.ReleaseAsync(work, "Cancelled as asked.", ct));
            else if (stopping.IsCancellationRequested)
                await ReportAsync(work, lease, "release", ct => _api.ReleaseAsync(work, $"The worker {_name} is shutting down.", ct));
            else
                await ReportAsync(work, lease, "fail", ct => Fail(work, error, ct));
        }
        finally
        {
            await stopHeartbeats.CancelAsync();
            await heartbeats;
        }
    }

    /// <summary>The result as JSON; one that does not serialize fails the attempt for good, as it would fail every time.</summary>
    private static JsonElement SerializeResult(object? value)
    {
        try
        {
            return value is null ? JsonSerializer.SerializeToElement(new { }) : JsonSerializer.SerializeToElement(value, value.GetType(), ClientJson.Options);
        }
        catch (Exception e) when (e is NotSupportedException or JsonException or InvalidOperationException)
        {
            throw new JobFailedException("result_not_serializable", $"The handler's result ({value!.GetType().Name}) does not serialize to JSON: {e.Message}", retryable: false, e);
        }
    }

    private Task Fail(ClaimedWork work, Exception error, CancellationToken ct)
    {
        var (code, retryable) = error is JobFailedException failed ? (failed.ErrorCode, failed.Retryable) : ("worker_exception", true);
        var message = error is JobFailedException ? error.Message : $"{error.GetType().Name}: {error.Message}";
        _logger.LogWarning(error, "Job {JobId} attempt {Attempt} failed ({Code}, {Retry}).", work.JobId, work.Attempt, code, retryable ? "retryable" : "not retryable");
        return _api.FailAsync(work, code, message.Length <= 4000 ? message : message[..4000], retryable, ct);
    }

    /// <summary>
    /// Sends the attempt's outcome, also while the service is away: tried again with backoff as long as the lease may
    /// still be held (once it has run out the service answers 409 anyway, and retries the job). Not bound to the
    /// worker's shutdown: a job that ends while the host stops is still recorded, or released.
    /// </summary>
    private async Task ReportAsync(ClaimedWork work, LeaseState lease, string what, Func<CancellationToken, Task> send)
    {
        for (var failures = 1; ; failures++)
        {
            try
            {
                await send(CancellationToken.None);
                _logger.LogInformation("Job {JobId} attempt {Attempt}: {What} recorded.", work.JobId, work.Attempt, what);
                return;
            }
            catch (Exception e) when (WorkerApi.IsLeaseLost(e))
            {
                _logger.LogWarning("Job {JobId} attempt {Attempt}: {What} not recorded, the lease was lost ({Error}).", work.JobId, work.Attempt, what, e.Message);
                return;
            }
            catch (Exception e) when (DateTimeOffset.UtcNow < lease.ExpiresAt && IsWorthRetrying(e))
            {
                var wait = _options.Retry.DelayBefore(failures);
                _logger.LogWarning("Job {JobId} attempt {Attempt}: could not {What} ({Error}); trying again in {Wait}.", work.JobId, work.Attempt, what, e.Message, wait);
                await Task.Delay(wait);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Job {JobId} attempt {Attempt}: could not {What}; the service retries the job once its lease runs out.", work.JobId, work.Attempt, what);
                return;
            }
        }
    }

    /// <summary>The service away or overloaded (the transport's retries ran out): worth another try later; anything else is not.</summary>
    private static bool IsWorthRetrying(Exception e) =>
        ApiTransport.IsConnectionFailure(e, CancellationToken.None) || e is JobsApiException problem && RetryPolicy.IsRetryable(problem.Status);

    /// <summary>Renews the lease every third of it until stopped; a cancellation it hears of, or a lost lease, cancels the handler.</summary>
    private async Task KeepLeaseAsync(ClaimedWork work, LeaseState lease, CancellationTokenSource cancelRequested, CancellationTokenSource leaseLost, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.LeaseDuration / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    var renewed = await _api.HeartbeatAsync(work, stop);
                    lease.ExpiresAt = renewed.LeaseExpiresAt;
                    if (renewed.CancellationRequested && !cancelRequested.IsCancellationRequested)
                    {
                        _logger.LogInformation("Job {JobId} attempt {Attempt}: cancellation was asked; stopping its handler.", work.JobId, work.Attempt);
                        await cancelRequested.CancelAsync();
                    }
                }
                catch (Exception e) when (WorkerApi.IsLeaseLost(e))
                {
                    LeaseLost(work, leaseLost, e);
                    return;
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    // The service away: the next tick tries again, while the lease may still hold.
                    _logger.LogWarning("Job {JobId} attempt {Attempt}: could not renew the lease ({Error}).", work.JobId, work.Attempt, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private void LeaseLost(ClaimedWork work, CancellationTokenSource leaseLost, Exception e)
    {
        if (leaseLost.IsCancellationRequested)
            return;
        _logger.LogWarning("Job {JobId} attempt {Attempt}: the lease was lost ({Error}); stopping its handler.", work.JobId, work.Attempt, e.Message);
        leaseLost.Cancel();
    }

    public override void Dispose()
    {
        base.Dispose();
        _ownHttp?.Dispose();
    }

    /// <summary>Until when the service holds the lease for this worker, as the last renewal said (written by the heartbeats, read by the reports).</summary>
    private sealed class LeaseState(DateTimeOffset expiresAt)
    {
        private long _expiresAtTicks = expiresAt.UtcTicks;

        public DateTimeOffset ExpiresAt
        {
            get => new(Interlocked.Read(ref _expiresAtTicks), TimeSpan.Zero);
            set => Interlocked.Exchange(ref _expiresAtTicks, value.UtcTicks);
        }
    }
}

/// <summary>Adds a <see cref="JobWorker"/> to an app's services.</summary>
public static class JobWorkerRegistration
{
    /// <summary>
    /// Runs a <see cref="JobWorker"/> while the app runs, configured by <paramref name="configure"/> (address, key, handlers,
    /// concurrency). Call it again for another worker with settings of its own. It logs through the app's ILogger.
    /// </summary>
    public static IServiceCollection AddJobWorker(this IServiceCollection services, Action<JobWorkerOptions> configure)
    {
        var options = new JobWorkerOptions();
        configure(options);
        options.Validate();
        // As an IHostedService of its own each time (AddHostedService would keep only one worker per app).
        services.AddSingleton<IHostedService>(provider => new JobWorker(options, provider.GetService<ILogger<JobWorker>>()));
        return services;
    }
}
