using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Scheduling;
using Marten;
using Npgsql;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenarios 1 to 3: appends of one job event with the service's own Marten configuration (the status
/// read model kept inline, in the append's transaction), to a new stream (a submission) or to an existing
/// one at its expected version (a progress report). Each at 1, 8 and 32 writers three ways: through Marten
/// with one session and one commit per append (the stock way); through the service's write port (JobStreams: the
/// decider, then group commit), as submissions and runners' reports go; and pgbench, one
/// transaction per append into Marten's tables, as the ceiling of committing appends one by one.
/// </summary>
public static class AppendScenarios
{
    private const int ExistingStreams = 10_000;
    private static readonly Backoff Backoff = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
    private static readonly JsonElement Input = JsonSerializer.SerializeToElement(new { fileId = "movie", steps = 5 });

    private const string NewStreamSql = """
        WITH s AS (INSERT INTO jobs.mt_streams (tenant_id, id, type, version) VALUES ('default', gen_random_uuid(), 'bench', 1) RETURNING id)
        INSERT INTO jobs.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id)
        SELECT nextval('jobs.mt_events_sequence'), gen_random_uuid(), id, 1, '{"n": 1}', 'bench.happened', now(), 'default' FROM s;
        """;

    private const string ExistingStreamSql = """
        \set n random(1, 10000)
        WITH s AS (UPDATE jobs.mt_streams SET version = version + 1, timestamp = now()
                   WHERE tenant_id = 'default' AND id = (SELECT id FROM bench_streams WHERE n = :n) RETURNING id, version)
        INSERT INTO jobs.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id)
        SELECT nextval('jobs.mt_events_sequence'), gen_random_uuid(), id, version, '{"n": 1}', 'bench.happened', now(), 'default' FROM s;
        """;

    public static async Task Run(BenchSettings settings)
    {
        await using var dataSource = PostgresDataSource.Create(settings.ConnectionString);
        using var store = DocumentStore.For(o =>
        {
            o.Connection(dataSource);
            JobStorage.Configure(o);
        });
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var streams = new JobStreams(store, TimeProvider.System);
        await PrepareCeilingStreams(dataSource);
        var jobs = await StartedJobs(store);

        await ClientFloor(settings, dataSource);
        foreach (var writers in (int[])[1, 8, 32])
        {
            var ceiling = await Pgbench(settings, $"ceiling-new-{writers}", NewStreamSql, writers);
            var stock = await Measure(settings, $"append-new-stock-{writers}", writers, ceiling, null, _ => StockStart(store));
            await Measure(settings, $"append-new-{writers}", writers, ceiling, stock, _ => streams.Submit(Submit(), Tenants.Default, Bench, default));
        }

        foreach (var writers in (int[])[1, 8, 32])
        {
            var ceiling = await Pgbench(settings, $"ceiling-existing-{writers}", ExistingStreamSql, writers);
            var stock = await Measure(settings, $"append-existing-stock-{writers}", writers, ceiling, null,
                ProgressReports(jobs, writers, (job, version) => StockAppend(store, job, version)));
            await Measure(settings, $"append-existing-{writers}", writers, ceiling, stock,
                ProgressReports(jobs, writers, async (job, version) => (await streams.Execute(Running(job, version), [Progressed(version)], Bench, default)).Job.Version));
        }
    }

    /// <summary>Runs the load and reports it beside the ceiling (and the stock way, for ours). Returns its appends per second.</summary>
    private static async Task<double> Measure(BenchSettings settings, string scenario, int writers, double ceiling, double? stock, Func<int, Task> append)
    {
        var (ops, latencies) = await Load.Run(writers, settings.Warmup, settings.Duration, append);
        List<(string, object)> figures = [("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)),
            ("rss_mb", Report.RssMb()), ("vs_ceiling", ops / ceiling)];
        if (stock is { } s)
            figures.Add(("vs_stock", ops / s));
        Report.Result(scenario, [.. figures]);
        return ops;
    }

    private static readonly EventMetadata Bench = new(Actor: "bench");

    private static JobCommand.SubmitJob Submit()
    {
        var id = Guid.CreateVersion7();
        return new JobCommand.SubmitJob(id, "transcode", Input, null, null, "fp", id.ToString(), 3, 300, Backoff);
    }

    /// <summary>A job running its first attempt, at <paramref name="version"/>, as its runner knows it.</summary>
    private static JobAt Running(Guid job, long version) =>
        new(job, Tenants.Default, new Job(job, "transcode", JobStatus.Processing, 1, 0, false, 3, 0, Backoff, 3), version, job.ToString());

    /// <summary>Progress that never goes back (the decider refuses that): the version, up to 100.</summary>
    private static JobCommand.ReportProgress Progressed(long version) => new(1, (int)Math.Min(version, 100), null);

    private static StreamAppend Submission()
    {
        var id = Guid.CreateVersion7();
        var submitted = new JobSubmitted(id, "transcode", Input, null, null, "fp", id.ToString(), 3, 300, Backoff, DateTimeOffset.UtcNow);
        return new StreamAppend(id, Tenants.Default, 0, [submitted], new EventMetadata(Actor: "bench"), typeof(Job));
    }

    private static StreamAppend Progress(Guid job, long version) =>
        new(job, Tenants.Default, version, [new JobProgressed(job, 1, (int)(version % 100), null, DateTimeOffset.UtcNow)], new EventMetadata(Actor: "bench"), typeof(Job));

    /// <summary>The stock way: a session of its own, one commit per append.</summary>
    private static async Task StockStart(IDocumentStore store)
    {
        var append = Submission();
        await using var session = store.LightweightSession(append.TenantId);
        session.Events.StartStream<Job>(append.StreamId, append.Events);
        await session.SaveChangesAsync();
    }

    private static async Task<long> StockAppend(IDocumentStore store, Guid job, long version)
    {
        var append = Progress(job, version);
        await using var session = store.LightweightSession(append.TenantId);
        session.Events.Append(job, append.Events).ExpectedVersionOnServer = version;
        await session.SaveChangesAsync();
        return version + 1;
    }

    /// <summary>
    /// Each writer appends round-robin to jobs of its own (writer w to jobs w, w + writers, ...), so it knows
    /// their versions; the versions are kept for the next load.
    /// </summary>
    private static Func<int, Task> ProgressReports((Guid Id, long Version)[] jobs, int writers, Func<Guid, long, Task<long>> append)
    {
        var next = new int[writers];
        return async worker =>
        {
            var owned = (jobs.Length - worker + writers - 1) / writers;
            var i = worker + next[worker]++ % owned * writers;
            jobs[i] = (jobs[i].Id, await append(jobs[i].Id, jobs[i].Version));
        };
    }

    /// <summary>Running jobs (submitted and started) to report progress on, written many to a commit.</summary>
    private static async Task<(Guid Id, long Version)[]> StartedJobs(IDocumentStore store)
    {
        var jobs = new List<(Guid, long)>();
        foreach (var chunk in Enumerable.Range(0, ExistingStreams).Chunk(1_000))
        {
            await using var session = store.LightweightSession();
            foreach (var _ in chunk)
            {
                var submission = Submission();
                var id = submission.StreamId;
                (submission with { Events = [.. submission.Events, new JobStarted(id, 1, "bench", DateTimeOffset.UtcNow)] }).AddTo(session);
                jobs.Add((id, 2));
            }
            await session.SaveChangesAsync();
        }
        return [.. jobs];
    }

    /// <summary>Streams of pgbench's own, in Marten's tables, for its appends to existing streams.</summary>
    private static async Task PrepareCeilingStreams(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand($$"""
            DROP TABLE IF EXISTS bench_streams;
            CREATE TABLE bench_streams (n int PRIMARY KEY, id uuid NOT NULL);
            WITH created AS (
                INSERT INTO jobs.mt_streams (tenant_id, id, type, version)
                SELECT 'default', gen_random_uuid(), 'bench', 1 FROM generate_series(1, {{ExistingStreams}})
                RETURNING id),
            numbered AS (INSERT INTO bench_streams SELECT row_number() OVER (), id FROM created RETURNING id)
            INSERT INTO jobs.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id)
            SELECT nextval('jobs.mt_events_sequence'), gen_random_uuid(), id, 1, '{"n": 0}', 'bench.happened', now(), 'default' FROM numbered;
            """);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The new-stream SQL from this process through plain Npgsql, one writer: what a .NET client pays for
    /// one durable commit here, below which no append through this process can go.
    /// </summary>
    private static async Task ClientFloor(BenchSettings settings, NpgsqlDataSource dataSource)
    {
        var (ops, latencies) = await Load.Run(1, settings.Warmup, settings.Duration, async _ =>
        {
            await using var command = dataSource.CreateCommand(NewStreamSql.TrimEnd().TrimEnd(';'));
            await command.ExecuteNonQueryAsync();
        });
        Report.Result("npgsql-floor-new-1", ("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)));
    }

    /// <summary>pgbench running <paramref name="script"/>, one transaction per append. Returns its appends per second.</summary>
    private static async Task<double> Pgbench(BenchSettings settings, string scenario, string script, int clients)
    {
        var work = Directory.CreateTempSubdirectory("pgbench-");
        try
        {
            var file = Path.Combine(work.FullName, "script.sql");
            await File.WriteAllTextAsync(file, script);
            var seconds = (int)(settings.Warmup + settings.Duration).TotalSeconds;
            var info = new ProcessStartInfo("pgbench",
                ["-n", "-M", "prepared", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, 4).ToString(CultureInfo.InvariantCulture),
                 "-T", seconds.ToString(CultureInfo.InvariantCulture), "-l", "-f", file,
                 "-h", settings.Server.Host!, "-p", settings.Server.Port.ToString(CultureInfo.InvariantCulture), "-U", settings.Server.Username!, settings.Server.Database!])
            {
                WorkingDirectory = work.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            await output;
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"pgbench failed: {errors}");

            // Per-transaction log lines: client, transaction, latency (us), script, epoch s, epoch us. Skip the warm-up.
            var warmupEnds = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - (long)settings.Duration.TotalSeconds;
            var latencies = new Latencies();
            long count = 0;
            foreach (var log in work.GetFiles("pgbench_log.*"))
            {
                foreach (var line in File.ReadLines(log.FullName))
                {
                    var fields = line.Split(' ');
                    if (long.Parse(fields[4], CultureInfo.InvariantCulture) < warmupEnds)
                        continue;
                    latencies.Add(TimeSpan.FromMicroseconds(long.Parse(fields[2], CultureInfo.InvariantCulture)));
                    count++;
                }
            }
            var ops = count / settings.Duration.TotalSeconds;
            Report.Result(scenario, ("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)));
            return ops;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
