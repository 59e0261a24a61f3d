using System.Diagnostics;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Scheduling;
using JasperFx.Events;
using Marten;
using Npgsql;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario: whether Marten's partition for archived streams (Events.UseArchivedStreamPartitioning) would pay here. The
/// rebuild scenario's million events (200,000 jobs), of which audit retention then archives the oldest 80% as the
/// service does (Marten's ArchiveStream, 500 jobs a transaction); then the global feed's page from the start and at
/// the end, an export of the events left, and appends, each without and with the partition, on a database of its own.
/// </summary>
public static class ArchiveScenario
{
    private const int Archived = RebuildScenario.Jobs * 4 / 5;
    private const int PageSize = 100;

    public static async Task Run(BenchSettings settings)
    {
        foreach (var partitioned in (bool[])[false, true])
        {
            var fresh = await settings.WithFreshDatabase(partitioned ? "bench_archive_partitioned" : "bench_archive");
            // Writing a million events into partitioned tables takes longer than a command may by default.
            await using var dataSource = PostgresDataSource.Create(fresh.ConnectionString + ";Command Timeout=600");
            using var store = DocumentStore.For(o =>
            {
                o.Connection(dataSource);
                JobStorage.Configure(o);
                o.Events.UseArchivedStreamPartitioning = partitioned;
            });
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            await RebuildScenario.WriteJobs(store, dataSource);
            var archiving = await Archive(store, dataSource);
            Report.Say($"archive: {Archived:N0} jobs archived in {archiving.TotalSeconds:F1} s ({(partitioned ? "partitioned" : "classic")})");
            await Execute(dataSource, "VACUUM ANALYZE jobs.mt_events");
            await Execute(dataSource, "VACUUM ANALYZE jobs.mt_streams");
            var last = await Scalar(dataSource, "SELECT max(seq_id) FROM jobs.mt_events");

            var (firstPages, first) = await Load.Run(4, settings.Warmup, settings.Duration, _ => Page(store, 0, last));
            var (lastPages, tail) = await Load.Run(4, settings.Warmup, settings.Duration, _ => Page(store, last - PageSize, last));
            var export = Stopwatch.StartNew();
            var exported = await Export(store, last);
            var exportSeconds = export.Elapsed.TotalSeconds;
            var commits = new GroupCommit(store);
            var (appends, appending) = await Load.Run(16, settings.Warmup, settings.Duration, async _ =>
            {
                var id = Guid.NewGuid();
                await commits.Append(new StreamAppend(id, Tenants.Default, 0, [RebuildScenario.Submitted(id)], EventMetadata.None, typeof(Job)), CancellationToken.None);
            });
            Report.Result(partitioned ? "archive-partitioned" : "archive-classic",
                ("archived_jobs", Archived), ("archive_jobs_per_s", Archived / archiving.TotalSeconds),
                ("first_page_per_s", firstPages), ("first_page_p50_ms", first.Percentile(50)), ("first_page_p99_ms", first.Percentile(99)),
                ("last_page_per_s", lastPages), ("last_page_p50_ms", tail.Percentile(50)), ("last_page_p99_ms", tail.Percentile(99)),
                ("export_events", exported), ("export_events_per_s", exported / exportSeconds),
                ("appends_per_s", appends), ("append_p99_ms", appending.Percentile(99)));
        }
    }

    /// <summary>Archives the oldest jobs as audit retention does, and returns how long it took.</summary>
    private static async Task<TimeSpan> Archive(IDocumentStore store, NpgsqlDataSource dataSource)
    {
        var ids = new List<Guid>();
        await using (var command = dataSource.CreateCommand($"SELECT id FROM jobs.mt_streams ORDER BY created, id LIMIT {Archived}"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                ids.Add(reader.GetGuid(0));
        }
        var clock = Stopwatch.StartNew();
        foreach (var batch in ids.Chunk(500))
        {
            await using var session = store.LightweightSession(Tenants.Default);
            foreach (var id in batch)
                session.Events.ArchiveStream(id);
            await session.SaveChangesAsync();
        }
        return clock.Elapsed;
    }

    /// <summary>A page of the global feed as GET /events reads it: archived events left out.</summary>
    private static async Task<IReadOnlyList<IEvent>> Page(IDocumentStore store, long after, long upTo, int limit = PageSize)
    {
        await using var session = store.QuerySession(Tenants.Default);
        return await session.Events.QueryAllRawEvents().Where(e => e.Sequence > after && e.Sequence <= upTo)
            .OrderBy(e => e.Sequence).Take(limit).ToListAsync();
    }

    private static async Task<long> Export(IDocumentStore store, long upTo)
    {
        long after = 0, events = 0;
        while (await Page(store, after, upTo, 5000) is { Count: > 0 } page)
            (after, events) = (page[^1].Sequence, events + page.Count);
        return events;
    }

    private static async Task<long> Scalar(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task Execute(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
