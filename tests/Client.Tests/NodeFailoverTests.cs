using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EventSourced.TestSupport;
using Npgsql;
using Xunit.Abstractions;

namespace EventSourced.Client.Tests;

/// <summary>
/// The clients through real network parts: two nodes of the service on one database, behind nginx with the documented
/// proxy settings and both nodes in its upstream. A node is killed (kill -9) while a client watches a job and a worker
/// works on it; the database restarts while clients submit. Nothing in between is mocked: the faults are the ones the
/// network and nginx make of a dead node or a database away (a cut stream, refused connections, 502s, 503s).
/// </summary>
public sealed class NodeFailoverTests(TestDatabase database, ITestOutputHelper output) : IClassFixture<TestDatabase>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_watch_and_a_worker_behind_nginx_outlive_a_kill_of_the_node_that_serves_the_watch_and_the_job_completes_once()
    {
        await using var cluster = await Cluster.Start(database.ConnectionString);
        var workerTraffic = new Traffic();
        var handled = new ConcurrentQueue<int>();
        using var worker = new JobWorker(new HttpClient(workerTraffic), new JobWorkerOptions
        {
            BaseAddress = cluster.Nginx.BaseAddress, ApiKey = cluster.Key, Retry = Service.Fast, LeaseDuration = Lease,
            ClaimWait = TimeSpan.FromSeconds(5), WorkerName = "failover",
        }.Handle("failover", async (_, job, ct) =>
        {
            for (var percent = 5; percent < 100; percent += 5)
            {
                await job.ReportProgressAsync(percent, ct: ct);
                await Task.Delay(200, ct);
            }
            handled.Enqueue(job.Attempt);
            return new { by = "the worker", attempt = job.Attempt };
        }));
        await worker.StartAsync(CancellationToken.None);

        var traffic = new Traffic();
        var job = await cluster.Client(traffic).SubmitAsync("failover", new { fileId = "outlives-a-node" }, new SubmitOptions { MaxAttempts = 3 });
        var clock = Stopwatch.StartNew();
        var watched = new ConcurrentQueue<(JobEvent Event, TimeSpan At)>();
        using var bound = new CancellationTokenSource(Patience.Bound);
        var watch = Task.Run(async () =>
        {
            await foreach (var e in job.WatchAsync(ct: bound.Token))
                watched.Enqueue((e, clock.Elapsed));
        });
        await Eventually.Get(() => Task.FromResult(watched.Count(w => w.Event is JobEvent.Progressed)), n => n >= 3, "the watch to see the worker's progress");

        // The node nginx passed the watch's stream to.
        var victim = cluster.Serving(traffic.To("GET", "/events").Last());
        var survivor = cluster.Nodes.Single(n => n != victim);
        victim.Kill();
        var killedAt = clock.Elapsed;
        await watch;
        await worker.StopAsync(CancellationToken.None).WaitAsync(Patience.Bound);

        var events = watched.ToList();
        var next = events.First(w => w.At > killedAt);
        output.WriteLine($"From kill -9 of the watch's node to the watch's next event ({next.Event.GetType().Name}): {(next.At - killedAt).TotalMilliseconds:F0} ms"
            + $" (the service's retry interval is 3 s; the client's first reconnect waits a random part of it).");
        var failed = workerTraffic.Exchanges.Where(e => e.Status is null or >= 500).Select(e => $"{e.Method} {e.Path} {e.Status?.ToString(CultureInfo.InvariantCulture) ?? "(no answer)"}");
        output.WriteLine($"The watch opened {traffic.To("GET", "/events").Count()} streams; the worker made {workerTraffic.Exchanges.Count} requests,"
            + $" {(victim.BaseAddress.Authority == workerTraffic.To("POST", "/claims").First(e => e.Status == 200).Upstream ? "its claim answered by the killed node" : "its claim answered by the survivor")};"
            + $" failed and retried: [{string.Join("; ", failed)}]; attempts run: {string.Join(", ", handled)}.");

        Assert.IsType<JobEvent.Completed>(events[^1].Event);
        // Each stored event once, in order, none missing: across the kill the watch resumed from its last event on the survivor.
        var stored = (await job.GetHistoryAsync()).Events.Where(e => !e.Type.StartsWith("webhook.", StringComparison.Ordinal)).ToList();
        Assert.Equal(stored.Select(e => e.Seq), events.Select(w => w.Event.Sequence));
        Assert.Single(stored, e => e.Type == "job.completed");
        var resumed = traffic.To("GET", "/events").Last();
        Assert.Equal((survivor.BaseAddress.Authority, true), (resumed.Upstream, resumed.LastEventId is not null));
        // Finished by the worker: on its first attempt, or on a later one if the lease ran out during the kill.
        var result = await job.GetResultAsync<JsonElement>();
        Assert.Equal("the worker", result.GetProperty("by").GetString());
        Assert.Equal(handled.Last(), result.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task Clients_that_submit_through_nginx_while_the_database_restarts_all_get_their_job_once_and_every_job_completes()
    {
        const int clients = 8;
        await using var postgres = await PostgresCluster.Start();
        await using var cluster = await Cluster.Start(postgres.ConnectionString);
        var traffic = new Traffic();

        await postgres.Stop();
        var outage = Stopwatch.StartNew();
        var submissions = Enumerable.Range(1, clients)
            .Select(i => cluster.Client(traffic).SubmitAsync("transcode", new { fileId = $"restart-{i}", steps = 3, stepMs = 100 }))
            .ToList();
        await Eventually.Get(() => Task.FromResult(traffic.To("POST", "/jobs").Where(e => e.Status == 503).Select(e => e.IdempotencyKey).Distinct().Count()),
            n => n == clients, "every client to be answered 503 while the database is away");
        await postgres.Restart();
        output.WriteLine($"The database was away for {outage.Elapsed.TotalSeconds:F1} s.");
        var jobs = await Task.WhenAll(submissions).WaitAsync(Patience.Bound);
        output.WriteLine($"All {clients} submissions accepted {outage.Elapsed.TotalSeconds:F1} s after the database stopped,"
            + $" with {traffic.To("POST", "/jobs").Count()} POSTs in all ({string.Join(", ", traffic.To("POST", "/jobs").GroupBy(e => e.Status).Select(g => $"{g.Count()} x {g.Key?.ToString(CultureInfo.InvariantCulture) ?? "no answer"}"))}).");

        // One key per client, the same on each of its retries, and one job per key.
        Assert.Equal(traffic.To("POST", "/jobs").Select(p => p.IdempotencyKey).Distinct().Order(), jobs.Select(j => j.Accepted!.IdempotencyKey).Order());
        Assert.Equal(clients, jobs.Select(j => j.Id).Distinct().Count());
        await using (var db = NpgsqlDataSource.Create(postgres.ConnectionString))
        await using (var streams = db.CreateCommand("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'"))
            Assert.Equal(clients, (long)(await streams.ExecuteScalarAsync())!);
        foreach (var job in jobs)
        {
            Assert.Equal(JobStatuses.Completed, (await job.WaitForCompletionAsync().WaitAsync(Patience.Bound)).Status);
            Assert.Single((await job.GetHistoryAsync()).Events, e => e.Type == "job.completed");
        }
    }

    /// <summary>Two nodes of the service on one database, with short leases, behind nginx; and a key for them.</summary>
    private sealed class Cluster(ApiProcess[] nodes, NginxProcess nginx, string key) : IAsyncDisposable
    {
        public IReadOnlyList<ApiProcess> Nodes => nodes;
        public NginxProcess Nginx => nginx;
        public string Key => key;

        public static async Task<Cluster> Start(string connectionString)
        {
            var settings = Service.Settings(connectionString);
            // Each node looks for leases that ran out every quarter of this: a job whose worker lost it runs again within seconds.
            settings["Runner__LeaseDuration"] = Lease.ToString();
            var key = await Service.CreateKey(settings);
            // Both at once: the key's command has set up the database (and start-ups that change the schema wait for each other).
            var starting = new[] { ApiProcess.StartHealthy(settings), ApiProcess.StartHealthy(settings) };
            try
            {
                var nodes = await Task.WhenAll(starting);
                return new Cluster(nodes, await NginxProcess.StartInFrontOf([.. nodes.Select(n => n.BaseAddress)]), key);
            }
            catch
            {
                foreach (var node in starting.Where(s => s.IsCompletedSuccessfully))
                    await node.Result.DisposeAsync();
                throw;
            }
        }

        /// <summary>A client of the service through nginx, whose traffic <paramref name="traffic"/> records.</summary>
        public JobsClient Client(Traffic traffic) =>
            new(new HttpClient(traffic), new JobsClientOptions { BaseAddress = nginx.BaseAddress, ApiKey = key, Retry = Service.Fast });

        /// <summary>The node that answered <paramref name="exchange"/>.</summary>
        public ApiProcess Serving(Traffic.Exchange exchange) => nodes.Single(n => n.BaseAddress.Authority == exchange.Upstream);

        public async ValueTask DisposeAsync()
        {
            await nginx.DisposeAsync();
            foreach (var node in nodes)
                await node.DisposeAsync();
        }
    }
}
