using System.Collections.Concurrent;
using System.Text.Json;
using EventSourced.TestSupport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using GenericHost = Microsoft.Extensions.Hosting.Host;

namespace EventSourced.Client.Tests;

/// <summary>
/// The worker host against the real service: each test runs a <see cref="JobWorker"/> for an external type of its own
/// (<see cref="Service.WorkerTypes"/>), submits jobs with the client, and reads their end from the service.
/// </summary>
public sealed class WorkerTests(Service service, ITestOutputHelper output) : IClassFixture<Service>
{
    [Fact]
    public async Task A_worker_runs_jobs_to_completion_with_their_progress_and_results()
    {
        var worker = Worker(Options("worked").Handle("worked", async (input, job, ct) =>
        {
            await job.ReportProgressAsync(50, "half way", ct);
            return new { fileId = input.GetProperty("fileId").GetString(), attempt = job.Attempt };
        }));
        await using var running = await Run(worker);

        var jobs = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => service.Client().SubmitAsync("worked", new { fileId = $"file-{i}" })));

        foreach (var (job, i) in jobs.Select((job, i) => (job, i + 1)))
        {
            var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);
            Assert.Equal(JobStatuses.Completed, state.Status);
            var result = await job.GetResultAsync<JsonElement>();
            Assert.Equal($"file-{i}", result.GetProperty("fileId").GetString());
            Assert.Equal(1, result.GetProperty("attempt").GetInt32());
            var progressed = Assert.Single(await Events<JobEvent.Progressed>(job));
            Assert.Equal((50, "half way"), (progressed.Percent, progressed.Message));
        }
    }

    [Fact]
    public async Task A_worker_runs_no_more_jobs_at_once_than_its_concurrency()
    {
        var gate = new TaskCompletionSource();
        var (now, most, started) = (0, 0, 0);
        var worker = Worker(Options("concurrent", concurrency: 2).Handle("concurrent", async (_, _, ct) =>
        {
            var running = Interlocked.Increment(ref now);
            InterlockedMax(ref most, running);
            Interlocked.Increment(ref started);
            await gate.Task.WaitAsync(ct);
            Interlocked.Decrement(ref now);
            return null;
        }));
        var jobs = await Task.WhenAll(Enumerable.Range(1, 4).Select(i => service.Client().SubmitAsync("concurrent", new { n = i })));
        await using var running = await Run(worker);

        // Two handlers hold their jobs, and the worker says it waits for one of them before it claims again.
        await Eventually.Get(() => Task.FromResult(Volatile.Read(ref started)), n => n >= 2, "two handlers to start");
        await Eventually.Get(() => Task.FromResult(_log.Count(l => l.Contains("the next claim waits", StringComparison.Ordinal))), n => n > 0, "the worker to wait for a slot");
        var states = await Task.WhenAll(jobs.Select(j => j.GetStatusAsync()));
        Assert.Equal(2, states.Count(s => s.Status == JobStatuses.Queued));
        Assert.Equal(2, Volatile.Read(ref started));

        gate.SetResult();
        foreach (var job in jobs)
            Assert.Equal(JobStatuses.Completed, (await job.WaitForCompletionAsync().WaitAsync(Patience.Bound)).Status);
        Assert.Equal(2, most);
        Assert.Equal(4, started);
    }

    [Fact]
    public async Task A_cancellation_reaches_the_handlers_token_and_the_job_ends_cancelled()
    {
        var started = new TaskCompletionSource();
        var tokenCancelled = new TaskCompletionSource();
        var worker = Worker(Options("cancellable", leaseSeconds: 5).Handle("cancellable", async (_, _, ct) =>
        {
            started.SetResult();
            ct.Register(() => tokenCancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, ct);
            return null;
        }));
        await using var running = await Run(worker);
        var job = await service.Client().SubmitAsync("cancellable", new { n = 1 });
        await started.Task.WaitAsync(Patience.Bound);

        await job.CancelAsync("no longer needed");

        await tokenCancelled.Task.WaitAsync(Patience.Bound);
        var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal(JobStatuses.Cancelled, state.Status);
    }

    [Fact]
    public async Task A_retryable_failure_is_tried_again_and_a_failure_that_is_not_fails_the_job_at_once()
    {
        var worker = Worker(Options("flaky")
            .Handle("flaky", (_, job, _) => job.Attempt == 1
                ? throw new InvalidOperationException("The disk was full.")
                : Task.FromResult<object?>(new { attempt = job.Attempt }))
            .Handle("rejected", (_, _, _) => throw new JobFailedException("bad_input", "The file is not an image.", retryable: false)));
        await using var running = await Run(worker);

        var flaky = await service.Client().SubmitAsync("flaky", new { n = 1 }, new SubmitOptions { MaxAttempts = 3 });
        var rejected = await service.Client().SubmitAsync("rejected", new { n = 2 }, new SubmitOptions { MaxAttempts = 3 });

        var retried = await flaky.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal((JobStatuses.Completed, 2), (retried.Status, retried.Attempt));
        var failedAttempt = Assert.Single(await History(flaky), e => e.Type == "job.attempt_failed");
        Assert.Equal("worker_exception", failedAttempt.Data.GetProperty("error").GetProperty("code").GetString());

        var failed = await rejected.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal((JobStatuses.Failed, 1, "bad_input"), (failed.Status, failed.Attempt, failed.Error?.Code));
        Assert.Equal("The file is not an image.", failed.Error?.Message);
    }

    [Fact]
    public async Task A_handler_whose_lease_was_lost_is_stopped_and_its_outcome_is_not_recorded()
    {
        var traffic = new Traffic();
        var firstStarted = new TaskCompletionSource();
        var firstStopped = new TaskCompletionSource();
        var worker = Worker(Options("leased", leaseSeconds: 5).Handle("leased", async (_, job, ct) =>
        {
            if (job.Attempt > 1)
                return new { by = "the second attempt" };
            firstStarted.SetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                firstStopped.SetResult();
            }
            // Finishing after the stop: the worker must not record this for a lease it lost.
            return new { by = "the first attempt" };
        }), new HttpClient(traffic));
        await using var running = await Run(worker);
        // The heartbeats do not get through: the lease runs out and the service retries the job.
        traffic.Unreachable(r => r.RequestUri!.AbsolutePath.EndsWith("/heartbeat", StringComparison.Ordinal));
        var job = await service.Client().SubmitAsync("leased", new { n = 1 }, new SubmitOptions { MaxAttempts = 3 });
        await firstStarted.Task.WaitAsync(Patience.Bound);
        await Eventually.Get(() => History(job), events => events.Any(e => e.Type == "job.attempt_failed"), "the lease to run out");

        traffic.Unreachable(_ => false);

        await firstStopped.Task.WaitAsync(Patience.Bound);
        var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal((JobStatuses.Completed, 2), (state.Status, state.Attempt));
        Assert.Equal("the second attempt", (await job.GetResultAsync<JsonElement>()).GetProperty("by").GetString());
        await running.DisposeAsync(); // every report the worker makes is made by the time it has stopped
        Assert.Single(traffic.To("POST", "/complete"));
    }

    [Fact]
    public async Task Stopping_the_host_cancels_the_handler_and_releases_its_job_which_then_runs_again()
    {
        var started = new TaskCompletionSource();
        var builder = GenericHost.CreateApplicationBuilder();
        builder.Services.AddJobWorker(options =>
        {
            Configure(options, "shutdown");
            options.Handle("shutdown", async (_, job, ct) =>
            {
                started.SetResult();
                await Task.Delay(Timeout.Infinite, ct);
                return null;
            });
        });
        using var host = builder.Build();
        await host.StartAsync();
        var job = await service.Client().SubmitAsync("shutdown", new { n = 1 });
        await started.Task.WaitAsync(Patience.Bound);

        await host.StopAsync().WaitAsync(Patience.Bound);

        var released = await job.GetStatusAsync();
        Assert.Equal((JobStatuses.Queued, 1), (released.Status, released.Attempt));
        Assert.Contains(await History(job), e => e.Type == "job.released");
        var again = Worker(Options("shutdown").Handle("shutdown", (_, job, _) => Task.FromResult<object?>(new { attempt = job.Attempt })));
        await using var running = await Run(again);
        var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal(JobStatuses.Completed, state.Status);
    }

    [Fact]
    public async Task A_worker_rides_out_a_restart_of_the_service_records_the_job_that_ended_meanwhile_and_claims_on()
    {
        var gate = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        var worker = Worker(Options("outage", leaseSeconds: 300).Handle("outage", async (_, job, ct) =>
        {
            started.TrySetResult();
            await gate.Task.WaitAsync(ct);
            return new { attempt = job.Attempt };
        }));
        await using var running = await Run(worker);
        var first = await service.Client().SubmitAsync("outage", new { n = 1 });
        await started.Task.WaitAsync(Patience.Bound);

        // The handler ends while the service is down: its outcome waits for the service to come back.
        await service.KillAndRestart(whileDown: gate.SetResult);

        // By the worker that held it through the outage: the service did not have to retry it.
        var ended = await first.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal((JobStatuses.Completed, 1), (ended.Status, ended.Attempt));
        var second = await service.Client().SubmitAsync("outage", new { n = 2 });
        Assert.Equal(JobStatuses.Completed, (await second.WaitForCompletionAsync().WaitAsync(Patience.Bound)).Status);
        Assert.False(worker.ExecuteTask!.IsCompleted);
    }

    private readonly ConcurrentQueue<string> _log = new();

    private JobWorkerOptions Options(string name, int concurrency = 1, int leaseSeconds = 30)
    {
        var options = new JobWorkerOptions { Concurrency = concurrency, LeaseDuration = TimeSpan.FromSeconds(leaseSeconds) };
        Configure(options, name);
        return options;
    }

    private void Configure(JobWorkerOptions options, string name)
    {
        options.BaseAddress = service.BaseAddress;
        options.ApiKey = service.Key;
        options.Retry = Service.Fast;
        // Short long polls: a stopping worker gives up its claim at once anyway, but a test's first claim is not held up.
        options.ClaimWait = TimeSpan.FromSeconds(5);
        options.WorkerName = $"test-{name}";
    }

    private JobWorker Worker(JobWorkerOptions options, HttpClient? http = null) =>
        http is null ? new JobWorker(options, new TestLogger(output, _log)) : new JobWorker(http, options, new TestLogger(output, _log));

    /// <summary>Starts the worker as a host would, and stops it (waiting for its jobs to be released) when disposed.</summary>
    private static async Task<IAsyncDisposable> Run(JobWorker worker)
    {
        await worker.StartAsync(CancellationToken.None);
        return new Stopper(worker);
    }

    private sealed class Stopper(JobWorker worker) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await worker.StopAsync(CancellationToken.None).WaitAsync(Patience.Bound);
            worker.Dispose();
        }
    }

    private async Task<IReadOnlyList<StoredEvent>> History(JobHandle job) => (await service.Client().Job(job.Id).GetHistoryAsync()).Events;

    private static async Task<List<T>> Events<T>(JobHandle job) where T : JobEvent
    {
        var events = new List<T>();
        await foreach (var e in job.WatchAsync())
        {
            if (e is T wanted)
                events.Add(wanted);
        }
        return events;
    }

    private static void InterlockedMax(ref int location, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref location)) && Interlocked.CompareExchange(ref location, value, seen) != seen)
        {
        }
    }

    /// <summary>The worker's log, in the test's output and kept for the tests that read it.</summary>
    private sealed class TestLogger(ITestOutputHelper output, ConcurrentQueue<string> lines) : ILogger<JobWorker>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}";
            lines.Enqueue(line);
            try
            {
                output.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // The test has ended: its output is closed.
            }
        }
    }
}
