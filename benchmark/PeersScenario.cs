using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Hangfire.PostgreSql;

namespace EventSourced.Benchmark;

/// <summary>
/// The work of <see cref="JobsScenario"/>'s jobs-burst and jobs-rate-R done by two peers, each on a fresh database of the same
/// PostgreSQL, with a no-op job, 64 producers and 16 workers: Hangfire in this process, graphile-worker under Node
/// (peers/graphile-worker/bench.mjs, which prints the same lines).
/// <list type="bullet">
/// <item>peers-PEER-burst: BENCH_JOBS jobs from 64 producers; accepted per second while enqueueing, finished per second from the
///   first enqueue until none is left unfinished.</item>
/// <item>peers-PEER-rate-R: R jobs a second offered for the measured time; from offered to the job's code done, p50/p99/max.</item>
/// </list>
/// A peer's job is a row and a function call: no events, no read model, no idempotency key, no HTTP, no stream. So its latency
/// ends when the job's code has run (the peer marks its row done just after), ours when the client sees the final event on the
/// job's stream. When ./bench jobs ran in the same run, each line also carries ours (eventsourced_KEY) and ours divided by the
/// peer's (eventsourced_ratio_KEY: above 1, ours is more per second, or slower).
/// </summary>
public static class PeersScenario
{
    internal const int Producers = 64;
    private const int Workers = 16;

    /// <summary>The figures set beside ours, by the names they have in JobsScenario's lines.</summary>
    private static readonly string[] Compared = ["accepted_per_s", "finished_per_s", "end_p50_ms", "end_p99_ms", "end_max_ms"];

    public static async Task Run(BenchSettings settings)
    {
        await Hangfire(await settings.WithFreshDatabase("bench_peers_hangfire"));
        await GraphileWorker(await settings.WithFreshDatabase("bench_peers_graphile_worker"));
    }

    /// <summary>Reports a peer's line for one of ours (jobs-burst, jobs-rate-R), with ours beside it when it ran.</summary>
    private static void Result(string peer, string ours, IEnumerable<(string Key, object Value)> values)
    {
        var line = values.ToList();
        foreach (var (key, value) in line.Where(v => Compared.Contains(v.Key)).ToList())
        {
            var theirs = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (Report.Reported(ours, key) is { } figure && theirs > 0)
                line.AddRange([("eventsourced_" + key, figure), ("eventsourced_ratio_" + key, figure / theirs)]);
        }
        Report.Result($"peers-{peer}-{ours["jobs-".Length..]}", [.. line]);
    }

    private static async Task Hangfire(BenchSettings settings)
    {
        // Hangfire 1.8's recommended settings, as its documentation starts a project: the 1.8 storage format, short type names
        // in stored jobs, its own serializer settings.
        GlobalConfiguration.Configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            // Hangfire.PostgreSql as its README sets it up (UseNpgsqlConnection), creating its schema at start
            // (PrepareSchemaIfNecessary, the default), and with EnableLongPolling: an idle worker waits on LISTEN/NOTIFY for the
            // next job rather than polling every QueuePollInterval (15 s by default). Polling measured slower in issue 21.
            .UsePostgreSqlStorage(connection => connection.UseNpgsqlConnection(settings.ConnectionString),
                new PostgreSqlStorageOptions { PrepareSchemaIfNecessary = true, EnableLongPolling = true });
        using var server = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = Workers });
        var client = new BackgroundJobClient();
        // Jobs not yet succeeded: a job's row is written before its first state, so a job being created counts too.
        const string unfinished = "SELECT count(*) FROM hangfire.job WHERE statename IS DISTINCT FROM 'Succeeded'";

        await HangfireProducers.Enqueue(client, 200);   // warm up every path a job takes, as ours does
        await JobsScenario.WaitUntilFinished(settings, 0, JobsScenario.Stall, Stopwatch.StartNew(), unfinished);
        await JobsScenario.Analyze(settings);

        var clock = Stopwatch.StartNew();
        await HangfireProducers.Enqueue(client, JobsScenario.BurstJobs);
        var accepting = clock.Elapsed;
        var backlog = await JobsScenario.Unfinished(settings, unfinished);
        var drain = await JobsScenario.WaitUntilFinished(settings, 0, JobsScenario.Stall, clock, unfinished);
        Result("hangfire", "jobs-burst", [("jobs", JobsScenario.BurstJobs), ("producers", Producers),
            ("accepted_per_s", JobsScenario.BurstJobs / accepting.TotalSeconds),
            ("finished_per_s", (JobsScenario.BurstJobs - drain.Left) / drain.LastFinished.TotalSeconds),
            ("backlog_when_accepted", backlog), ("drained", drain.Drained), ("unfinished", drain.Left)]);

        foreach (var rate in JobsScenario.Rates)
        {
            var done = HangfireNoOp.Done = new Latencies();
            var producers = new HangfireProducers(client);
            var jobs = 0;
            using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rate));
            clock.Restart();
            // Every job due by each tick, as JobsScenario offers ours.
            while (clock.Elapsed < settings.Duration && await tick.WaitForNextTickAsync())
            {
                for (; jobs < clock.Elapsed.TotalSeconds * rate; jobs++)
                    producers.Offer();
            }
            await producers.Finish();
            backlog = await JobsScenario.Unfinished(settings, unfinished);
            // Jobs the burst left behind for good are not waited for again.
            await JobsScenario.WaitUntilFinished(settings, drain.Left, JobsScenario.Stall, Stopwatch.StartNew(), unfinished);
            Result("hangfire", $"jobs-rate-{rate}", [("offered_per_s", rate), ("jobs", jobs), ("offered_per_s_achieved", jobs / settings.Duration.TotalSeconds),
                ("end_p50_ms", done.Percentile(50)), ("end_p99_ms", done.Percentile(99)), ("end_max_ms", done.Percentile(100)),
                ("backlog_when_offering_stopped", backlog), ("not_finished", jobs - done.Count)]);
        }
    }

    /// <summary>Runs peers/graphile-worker/bench.mjs under Node on its database, and reports its lines with ours beside them.</summary>
    private static async Task GraphileWorker(BenchSettings settings)
    {
        var server = settings.Server;
        var info = new ProcessStartInfo("node", ["bench.mjs"])
        {
            WorkingDirectory = Path.Combine(ApiServer.RepositoryRoot(), "benchmark", "peers", "graphile-worker"),
            RedirectStandardOutput = true,
        };
        // node-postgres takes a URL; BENCH_JOBS, BENCH_JOB_RATES and BENCH_SECONDS pass through from ours.
        var user = Uri.EscapeDataString(server.Username!) + (server.Password is { } password ? ":" + Uri.EscapeDataString(password) : "");
        info.Environment["PEER_DATABASE_URL"] = $"postgres://{user}@{server.Host}:{server.Port}/{server.Database}";
        info.Environment["BENCH_SECONDS"] = settings.Duration.TotalSeconds.ToString(CultureInfo.InvariantCulture);
        using var node = Process.Start(info)!;
        while (await node.StandardOutput.ReadLineAsync() is { } output)
        {
            // RESULT scenario=peers-graphile-worker-burst key=value ...
            var fields = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields is not ["RESULT", var scenario, ..])
            {
                Console.WriteLine(output);
                continue;
            }
            var ours = "jobs-" + scenario["scenario=peers-graphile-worker-".Length..];
            Result("graphile-worker", ours, fields[2..].Select(f => f.Split('=', 2)).Select(kv => (kv[0], (object)kv[1])));
        }
        await node.WaitForExitAsync();
        if (node.ExitCode != 0)
            Report.Say($"graphile-worker's bench exited {node.ExitCode}");
    }
}

/// <summary>64 producers that enqueue a Hangfire job for each offer; threads of their own, as Hangfire's client blocks on the database.</summary>
internal sealed class HangfireProducers
{
    private readonly BlockingCollection<long> _offers = [];
    private readonly Task[] _producers;

    public HangfireProducers(BackgroundJobClient client) =>
        _producers = Enumerable.Range(0, PeersScenario.Producers).Select(_ => Task.Factory.StartNew(() =>
        {
            foreach (var offered in _offers.GetConsumingEnumerable())
                client.Enqueue(() => HangfireNoOp.Run(offered));
        }, TaskCreationOptions.LongRunning)).ToArray();

    /// <summary>Offers a job now: its latency counts from here, the wait for a free producer included.</summary>
    public void Offer() => _offers.Add(Stopwatch.GetTimestamp());

    /// <summary>Waits until everything offered is enqueued.</summary>
    public async Task Finish()
    {
        _offers.CompleteAdding();
        await Task.WhenAll(_producers);
        _offers.Dispose();
    }

    public static async Task Enqueue(BackgroundJobClient client, int jobs)
    {
        var producers = new HangfireProducers(client);
        for (var i = 0; i < jobs; i++)
            producers.Offer();
        await producers.Finish();
    }
}

/// <summary>The no-op job: records the time from its offer (a <see cref="Stopwatch"/> timestamp) to its code run.</summary>
public static class HangfireNoOp
{
    public static Latencies Done { get; set; } = new();

    public static void Run(long offered) => Done.Add(Stopwatch.GetElapsedTime(offered));
}
