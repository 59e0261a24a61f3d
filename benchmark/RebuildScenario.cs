using System.Diagnostics;
using System.Text.Json;
using EventSourced.EventStore;
using EventSourced.Projections;
using EventSourced.Projections.Jobs;
using Npgsql;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario 7: an operator's rebuild. A million job events (200,000 jobs of five events: submitted,
/// started, two progress reports, completed) in a database of their own, replayed through the
/// status projection as `./run rebuild job_status` does it.
/// </summary>
public static class RebuildScenario
{
    private const int Jobs = 200_000;
    private const int JobsPerAppend = 1_000;

    public static async Task Run(BenchSettings settings)
    {
        await using var dataSource = PostgresDataSource.Create(await FreshDatabase(settings, "bench_rebuild"));
        await SchemaMigrations.Apply(dataSource, [SchemaModule.EventStore, JobReadModels.Schema]);
        var types = JobReadModels.EventTypes();

        var writing = Stopwatch.StartNew();
        var writer = new PostgresEventStore(dataSource, types, []);
        var batches = Enumerable.Range(0, Jobs / JobsPerAppend);
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (batch, ct) =>
            await writer.AppendMany([.. Enumerable.Range(batch * JobsPerAppend, JobsPerAppend).Select(CompletedJob)], ct));
        Report.Say($"rebuild: wrote {Jobs * 5:N0} events in {writing.Elapsed.TotalSeconds:F1} s");

        var status = new JobStatusProjection();
        var store = new PostgresEventStore(dataSource, types, [status]);
        var clock = Stopwatch.StartNew();
        var replayed = await store.Rebuild(status);
        var seconds = clock.Elapsed.TotalSeconds;
        Report.Result("rebuild", ("events", replayed), ("seconds", seconds), ("events_per_s", replayed / seconds), ("rss_mb", Report.RssMb()));
    }

    private static StreamAppend CompletedJob(int n)
    {
        var id = Guid.CreateVersion7();
        var at = DateTimeOffset.UtcNow;
        var input = JsonSerializer.SerializeToElement(new { fileId = $"file-{n}", steps = 2 });
        var result = JsonSerializer.SerializeToElement(new { fileId = $"file-{n}", outputUrl = $"https://files.example/{n}.mp4" });
        return new StreamAppend(id, ExpectedVersion.NoStream,
        [
            new JobSubmitted(id, "transcode", input, null, $"corr-{n}", Convert.ToHexString(id.ToByteArray()), $"key-{n}", 3, 300, at),
            new JobStarted(id, 1, "node-1", at),
            new JobProgressed(id, 1, 50, "step 1 of 2", at),
            new JobProgressed(id, 1, 100, "step 2 of 2", at),
            new JobCompleted(id, result, "application/json", at),
        ], StreamType: "job");
    }

    private static async Task<string> FreshDatabase(BenchSettings settings, string name)
    {
        var server = settings.Server;
        server.Database = "postgres";
        await using (var admin = new NpgsqlConnection(server.ConnectionString))
        {
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}", admin);
            await command.ExecuteNonQueryAsync();
        }
        server.Database = name;
        return server.ConnectionString;
    }
}
