using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using JasperFx.Events;
using Marten;
using Npgsql;

namespace EventSourced.Projections.Rebuilds;

/// <summary>How far a build has come: events folded of those there were when it began, and for how long.</summary>
public sealed record BuildProgress(long Done, long Total, TimeSpan Elapsed);

/// <summary>
/// A copy of the inline read models (job status and results) built from the events in a schema of its own, beside the live
/// tables, which keep serving and keep being updated meanwhile. It folds every stream that is not archived up to the feed's
/// horizon with the projections' own code, writes in bulk, then catches up with the streams that moved since, as often as
/// asked. A rebuild then swaps it in (<see cref="TakeOver"/>); a verification compares it with the live tables.
///
/// Marten's own rebuild of an inline projection empties the live table and replays into it, so appends must stop for the
/// whole replay (about 20 s per million events here) or be lost; Marten's blue/green versioning needs a deployment per
/// rebuild. This needs neither: appends wait only while the last few streams are folded and the tables change schema.
/// Its schema is dropped at the start of every build, so an interrupted build starts over and is never live.
/// </summary>
public sealed class ShadowBuild : IAsyncDisposable
{
    private const int StreamsPerPage = 500;
    private static readonly JobStatusProjection StatusProjection = new();

    private readonly IDocumentStore _live;
    private readonly NpgsqlDataSource _dataSource;
    private readonly FeedHorizon _horizon;
    private readonly DocumentStore _shadow;
    private long _builtUpTo;

    private ShadowBuild(IDocumentStore live, NpgsqlDataSource dataSource, FeedHorizon horizon, DocumentStore shadow, string schema)
    {
        (_live, _dataSource, _horizon, _shadow, Schema) = (live, dataSource, horizon, shadow, schema);
    }

    public string Schema { get; }

    public static async Task<ShadowBuild> Create(IDocumentStore live, NpgsqlDataSource dataSource, FeedHorizon horizon, string schema, CancellationToken ct)
    {
        await Execute(dataSource, $"DROP SCHEMA IF EXISTS {schema} CASCADE", ct);
        var shadow = DocumentStore.For(options =>
        {
            EventStoreSetup.Configure(options, JobEvent.TypeNames);
            JobReadModels.ConfigureDocuments(options);
            options.DatabaseSchemaName = schema;
            options.Connection(dataSource);
        });
        await shadow.Storage.Database.EnsureStorageExistsAsync(typeof(JobStatusView), ct);
        await shadow.Storage.Database.EnsureStorageExistsAsync(typeof(JobResultView), ct);
        var build = new ShadowBuild(live, dataSource, horizon, shadow, schema);
        await build.RequireSameColumns(ct);
        return build;
    }

    /// <summary>The live service's functions write the swapped-in tables: their columns must be the live tables' to the letter.</summary>
    private async Task RequireSameColumns(CancellationToken ct)
    {
        foreach (var table in JobReadModels.Tables.Values)
        {
            await using var command = _dataSource.CreateCommand("""
                SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_name) FROM information_schema.columns
                WHERE table_schema = $1 AND table_name = $2
                """);
            command.Parameters.Add(new() { Value = EventStoreSetup.Schema });
            command.Parameters.Add(new() { Value = table });
            var live = await command.ExecuteScalarAsync(ct) as string;
            command.Parameters[0].Value = Schema;
            var copy = await command.ExecuteScalarAsync(ct) as string;
            if (live != copy)
                throw new InvalidOperationException($"The copy of {table} would not have the live table's columns ({copy} instead of {live}): start the service once to migrate the live schema.");
        }
    }

    /// <summary>Folds every stream that is not archived, up to the feed's horizon now, into the copy.</summary>
    public async Task Build(IProgress<BuildProgress> progress, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var upTo = await _horizon.Settled(ct);
        var total = await Scalar<long>($"SELECT count(*) FROM {EventStoreSetup.Schema}.mt_events WHERE seq_id <= $1 AND NOT is_archived", ct, upTo);
        long done = 0;
        (string TenantId, Guid Id)? after = null;
        while (true)
        {
            var streams = await StreamPage(after, ct);
            if (streams.Length == 0)
                break;
            done += await Write(streams, upTo, bulk: true, ct);
            after = streams[^1];
            progress.Report(new BuildProgress(done, total, clock.Elapsed));
        }
        _builtUpTo = upTo;
        progress.Report(new BuildProgress(done, Math.Max(done, total), clock.Elapsed));
    }

    /// <summary>
    /// Builds, then catches up with what appends moved meanwhile until few streams are left or a few rounds have passed
    /// (under a steady stream of appends each round finds new ones): what is left is folded with appends held.
    /// </summary>
    public async Task Prepare(IProgress<BuildProgress> progress, CancellationToken ct)
    {
        await Build(progress, ct);
        for (var round = 0; round < CatchUpRounds && await CatchUp(ct) > FewEnoughToHold; round++)
        {
        }
    }

    private const int CatchUpRounds = 5;
    private const int FewEnoughToHold = 200;

    /// <summary>Folds again the streams that moved since the last build or catch-up, up to the horizon now; returns how many.</summary>
    public async Task<int> CatchUp(CancellationToken ct) => await CatchUpTo(await _horizon.Current(ct), ct);

    /// <summary>
    /// Catches up one last time with appends held (a SHARE lock on the streams table, which every append writes), then moves
    /// the live tables of <paramref name="projections"/> out and the copies in, in one transaction: readers see the old
    /// tables or the new ones, never a half-built one. Returns how long appends were held.
    /// </summary>
    public async Task<TimeSpan> TakeOver(IReadOnlyCollection<string> projections, CancellationToken ct)
    {
        var retired = Schema + "_retired";
        for (var attempt = 1; ; attempt++)
        {
            await Execute(_dataSource, $"DROP SCHEMA IF EXISTS {retired} CASCADE; CREATE SCHEMA {retired}", ct);
            try
            {
                var held = await TrySwap(projections, retired, ct);
                await Execute(_dataSource, $"DROP SCHEMA {retired} CASCADE", ct);
                return held;
            }
            // A claim that read the status table and then waits to append, behind our lock on the streams, holds what the
            // swap needs: PostgreSQL ends one of the two (or the swap gives up waiting). Claims are retried; so is the swap.
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable && attempt < SwapAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), ct);
            }
        }
    }

    private const int SwapAttempts = 10;

    private async Task<TimeSpan> TrySwap(IReadOnlyCollection<string> projections, string retired, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var held = System.Diagnostics.Stopwatch.StartNew();
        await using (var hold = new NpgsqlCommand($"SET LOCAL lock_timeout = '2s'; LOCK TABLE {EventStoreSetup.Schema}.mt_streams IN SHARE MODE", connection, transaction))
            await hold.ExecuteNonQueryAsync(ct);
        // Every append that numbered events has committed or waits on the lock: the highest number is final.
        await using (var highest = new NpgsqlCommand($"SELECT coalesce(max(seq_id), 0) FROM {EventStoreSetup.Schema}.mt_events", connection, transaction))
            await CatchUpTo((long)(await highest.ExecuteScalarAsync(ct))!, ct);
        foreach (var table in projections.Select(p => JobReadModels.Tables[p]))
        {
            // Archiving a job adds no event, so the catch-up does not see it: drop the rows of jobs archived meanwhile.
            await using var swap = new NpgsqlCommand($"""
                DELETE FROM {Schema}.{table} AS t USING {EventStoreSetup.Schema}.mt_streams AS s
                WHERE s.tenant_id = t.tenant_id AND s.id = t.id AND s.is_archived;
                ALTER TABLE {EventStoreSetup.Schema}.{table} SET SCHEMA {retired};
                ALTER TABLE {Schema}.{table} SET SCHEMA {EventStoreSetup.Schema}
                """, connection, transaction);
            await swap.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
        return held.Elapsed;
    }

    /// <summary>
    /// The rows of <paramref name="projection"/>'s live table and of the copy that differ (by an MD5 of each row's JSON), up to
    /// <paramref name="limit"/>; a row that differs only because its job moved since is folded again and checked again.
    /// </summary>
    public async Task<(long Live, long Rebuilt, IReadOnlyList<RowDifference> Differences)> Compare(string projection, int limit, CancellationToken ct)
    {
        var table = JobReadModels.Tables[projection];
        var differences = await Differences(table, limit, ct);
        for (var round = 0; round < 3 && differences.Count > 0; round++)
        {
            await CatchUp(ct);
            differences = await Differences(table, limit, ct);
        }
        var live = await Scalar<long>($"SELECT count(*) FROM {EventStoreSetup.Schema}.{table}", ct);
        var rebuilt = await Scalar<long>($"SELECT count(*) FROM {Schema}.{table}", ct);
        return (live, rebuilt, differences);
    }

    public async ValueTask DisposeAsync()
    {
        await Execute(_dataSource, $"DROP SCHEMA IF EXISTS {Schema} CASCADE", CancellationToken.None);
        _shadow.Dispose();
    }

    private async Task<int> CatchUpTo(long upTo, CancellationToken ct)
    {
        var moved = await Streams($"""
            SELECT DISTINCT tenant_id, stream_id FROM {EventStoreSetup.Schema}.mt_events WHERE seq_id > $1 AND seq_id <= $2 AND NOT is_archived
            """, ct, _builtUpTo, upTo);
        foreach (var page in moved.Chunk(StreamsPerPage))
            await Write(page, upTo, bulk: false, ct);
        _builtUpTo = upTo;
        return moved.Length;
    }

    /// <summary>Folds <paramref name="streams"/> up to <paramref name="upTo"/>, a tenant at a time, and writes their documents to the copy; returns how many events it folded.</summary>
    private async Task<int> Write((string TenantId, Guid Id)[] streams, long upTo, bool bulk, CancellationToken ct)
    {
        var folded = 0;
        foreach (var tenant in streams.GroupBy(s => s.TenantId, s => s.Id))
        {
            var ids = tenant.ToArray();
            IReadOnlyList<IEvent> events;
            await using (var session = _live.QuerySession(tenant.Key))
                // By tenant, stream and version, as the events' unique index has them; in any other order PostgreSQL walks
                // the whole event table for each page.
                events = await session.Events.QueryAllRawEvents().Where(e => e.StreamId.IsOneOf(ids) && e.Sequence <= upTo)
                    .OrderBy(e => e.StreamId).ThenBy(e => e.Version).ToListAsync(ct);
            folded += events.Count;
            await Write(tenant.Key, events, bulk, ct);
        }
        return folded;
    }

    /// <summary>Folds one tenant's events (in stream and version order) and writes the documents: in bulk into the empty copy, else as upserts.</summary>
    private async Task Write(string tenantId, IReadOnlyList<IEvent> events, bool bulk, CancellationToken ct)
    {
        var statuses = new List<JobStatusView>();
        var results = new List<JobResultView>();
        foreach (var stream in events.GroupBy(e => e.StreamId))
        {
            var view = stream.Aggregate((JobStatusView?)null, (v, e) => StatusProjection.Evolve(v, stream.Key, e));
            if (view is not null)
                statuses.Add(view);
            if (stream.Select(JobResultProjection.ResultOf).LastOrDefault(r => r is not null) is { } result)
                results.Add(result);
        }
        if (bulk)
        {
            await _shadow.BulkInsertAsync(tenantId, statuses, cancellation: ct);
            await _shadow.BulkInsertAsync(tenantId, results, cancellation: ct);
            return;
        }
        await using var write = _shadow.LightweightSession(tenantId);
        write.Store<JobStatusView>(statuses);
        write.Store<JobResultView>(results);
        await write.SaveChangesAsync(ct);
    }

    private Task<(string TenantId, Guid Id)[]> StreamPage((string TenantId, Guid Id)? after, CancellationToken ct) => after is var (tenant, id)
        ? Streams($"""
            SELECT tenant_id, id FROM {EventStoreSetup.Schema}.mt_streams WHERE NOT is_archived AND (tenant_id, id) > ($1, $2)
            ORDER BY tenant_id, id LIMIT {StreamsPerPage}
            """, ct, tenant, id)
        : Streams($"SELECT tenant_id, id FROM {EventStoreSetup.Schema}.mt_streams WHERE NOT is_archived ORDER BY tenant_id, id LIMIT {StreamsPerPage}", ct);

    private async Task<List<RowDifference>> Differences(string table, int limit, CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand($"""
            SELECT coalesce(l.tenant_id, r.tenant_id), coalesce(l.id, r.id), md5(l.data::text), md5(r.data::text)
            FROM {EventStoreSetup.Schema}.{table} AS l FULL JOIN {Schema}.{table} AS r ON r.tenant_id = l.tenant_id AND r.id = l.id
            WHERE md5(l.data::text) IS DISTINCT FROM md5(r.data::text)
            ORDER BY 1, 2
            LIMIT {limit}
            """);
        var differences = new List<RowDifference>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            differences.Add(new RowDifference(reader.GetString(0), reader.GetGuid(1),
                reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }
        return differences;
    }

    private async Task<(string TenantId, Guid Id)[]> Streams(string sql, CancellationToken ct, params object[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new() { Value = parameter });
        var streams = new List<(string, Guid)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            streams.Add((reader.GetString(0), reader.GetGuid(1)));
        return [.. streams];
    }

    private async Task<T> Scalar<T>(string sql, CancellationToken ct, params object[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new() { Value = parameter });
        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    private static async Task Execute(NpgsqlDataSource dataSource, string sql, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>A row the live table and the rebuilt copy disagree on: the MD5 of each one's JSON, null where the row is missing.</summary>
public sealed record RowDifference(string TenantId, Guid Id, string? LiveMd5, string? RebuiltMd5);
