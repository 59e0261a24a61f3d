using System.Diagnostics;
using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections;
using EventSourced.Projections.Rebuilds;
using EventSourced.Scheduling;
using Marten;
using Npgsql;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario 7: an operator's rebuild. A million job events (200,000 jobs of five events: submitted,
/// started, two progress reports, completed) in a database of their own, rebuilt into the read models as
/// `./run projections rebuild` does it, beside the live ones, while 16 writers (BENCH_REBUILD_WRITERS) keep appending new jobs.
/// </summary>
public static class RebuildScenario
{
    public const int Jobs = 200_000;

    // BENCH_REBUILD_WRITERS=0 measures the rebuild alone: what it does with the machine to itself.
    private static readonly int Writers = int.Parse(Environment.GetEnvironmentVariable("BENCH_REBUILD_WRITERS") ?? "16", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task Run(BenchSettings settings)
    {
        await using var dataSource = PostgresDataSource.Create(settings.ConnectionString);
        using var store = DocumentStore.For(o =>
        {
            o.Connection(dataSource);
            JobStorage.Configure(o);
        });
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        var writing = Stopwatch.StartNew();
        await WriteJobs(store, dataSource);
        Report.Say($"rebuild: wrote {Jobs * 5:N0} events in {writing.Elapsed.TotalSeconds:F1} s");

        // Appends go on throughout, as in production: new jobs from the writers through group commit.
        using var stop = new CancellationTokenSource();
        var commits = new GroupCommit(store);
        long appended = 0;
        var appending = Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var id = Guid.NewGuid();
                await commits.Append(new StreamAppend(id, Tenants.Default, 0, [Submitted(id)], EventMetadata.None, typeof(Job)), CancellationToken.None);
                Interlocked.Increment(ref appended);
            }
        })));

        var clock = Stopwatch.StartNew();
        await using (var build = await ShadowBuild.Create(store, dataSource, new FeedHorizon(dataSource, TimeProvider.System), "jobs_rebuild", JobReadModels.Names, CancellationToken.None))
        {
            await build.Prepare(new Progress<BuildProgress>(), CancellationToken.None);
            var held = await build.TakeOver(CancellationToken.None);
            var seconds = clock.Elapsed.TotalSeconds;
            var during = Interlocked.Read(ref appended);
            await stop.CancelAsync();
            await appending;
            var rebuilt = await Scalar(dataSource, "SELECT count(*) FROM jobs.mt_doc_job_status WHERE status = 'Completed'");
            Report.Result("rebuild", ("writers", Writers), ("events", Jobs * 5), ("seconds", seconds), ("events_per_s", Jobs * 5 / seconds), ("jobs_rebuilt", rebuilt),
                ("appends_meanwhile_per_s", during / seconds), ("appends_held_ms", held.TotalMilliseconds), ("rss_mb", Report.RssMb()));
        }
    }

    /// <summary>
    /// One job through Marten, then copied in SQL as many times as needed with new ids: the rows are exactly
    /// as Marten writes them, and writing a million events takes seconds rather than minutes.
    /// </summary>
    internal static async Task WriteJobs(IDocumentStore store, NpgsqlDataSource dataSource)
    {
        var id = Guid.CreateVersion7();
        var at = DateTimeOffset.UtcNow;
        var result = JsonSerializer.SerializeToElement(new { fileId = "file", outputUrl = "https://files.example/file.mp4" });
        await new GroupCommit(store).Append(new StreamAppend(id, Tenants.Default, 0,
        [
            Submitted(id),
            new JobStarted(id, 1, "node-1", at),
            new JobProgressed(id, 1, 50, "step 1 of 2", at),
            new JobProgressed(id, 1, 100, "step 2 of 2", at),
            new JobCompleted(id, result, "application/json", at),
        ], new EventMetadata(Actor: "bench"), typeof(Job)));

        // One connection: the copies' ids are a temporary table.
        await using var connection = await dataSource.OpenConnectionAsync();
        foreach (var sql in (string[])[
            $"CREATE TEMP TABLE copies AS SELECT gen_random_uuid() AS id FROM generate_series(2, {Jobs})",
            """
            INSERT INTO jobs.mt_streams (tenant_id, id, type, version, timestamp, created)
            SELECT s.tenant_id, c.id, s.type, s.version, s.timestamp, s.created FROM jobs.mt_streams s, copies c WHERE s.id = $1
            """,
            """
            INSERT INTO jobs.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, correlation_id, causation_id, user_name)
            SELECT nextval('jobs.mt_events_sequence'), gen_random_uuid(), c.id, e.version, jsonb_set(e.data, '{jobId}', to_jsonb(c.id)),
                   e.type, e.timestamp, e.tenant_id, e.mt_dotnet_type, e.correlation_id, e.causation_id, e.user_name
            FROM copies c, jobs.mt_events e WHERE e.stream_id = $1
            ORDER BY c.id, e.version
            """])
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new() { Value = id });
            await command.ExecuteNonQueryAsync();
        }
    }

    internal static JobSubmitted Submitted(Guid id) => new(id, "transcode", JsonSerializer.SerializeToElement(new { fileId = "file", steps = 2 }),
        null, "corr", "fp", "key", 3, 300, new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)), DateTimeOffset.UtcNow);

    private static async Task<long> Scalar(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
