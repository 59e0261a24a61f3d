using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Projections.Stats;
using JasperFx.Events;
using Marten;
using Marten.Events.Archiving;
using Marten.Services;
using Npgsql;
using Weasel.Postgresql;

namespace EventSourced.Projections.Rebuilds;

/// <summary>How far a build has come: events folded of those there were when it began, and for how long.</summary>
public sealed record BuildProgress(long Done, long Total, TimeSpan Elapsed);

/// <summary>
/// A copy of some of the read models built from the events in a schema of its own, beside the live tables, which keep
/// serving and keep being updated meanwhile. It folds every stream up to the feed's horizon with the projections' own
/// code (archived streams only into the statistics, which keep archived jobs), writes in bulk, then catches up with the
/// streams that moved since, as often as asked. A rebuild then swaps it in (<see cref="TakeOver"/>); a verification
/// compares it with the live tables.
///
/// Marten's own rebuild of an inline projection empties the live table and replays into it, so appends must stop for the
/// whole replay (about 20 s per million events here) or be lost; Marten's blue/green versioning needs a deployment per
/// rebuild. This needs neither: appends wait only while the last few streams are folded and the tables change schema.
/// The statistics are kept by the daemon on the leading node, so a daemon rebuild from the operator's process would race it;
/// here the daemon simply goes on: its progress is at most the copy's, and applying an event to the statistics again
/// changes nothing (see <see cref="JobStatsProjection"/>), so it applies what it had left to the new table.
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
    private readonly IReadOnlyCollection<string> _projections;
    private readonly ArchivingLock.Held _archivingHeldOff;
    private readonly List<string> _deferredIndexes = [];
    private long _builtUpTo;

    private ShadowBuild(IDocumentStore live, NpgsqlDataSource dataSource, FeedHorizon horizon, DocumentStore shadow, string schema,
        IReadOnlyCollection<string> projections, ArchivingLock.Held archivingHeldOff)
    {
        (_live, _dataSource, _horizon, _shadow, Schema, _projections, _archivingHeldOff) = (live, dataSource, horizon, shadow, schema, projections, archivingHeldOff);
    }

    public string Schema { get; }

    private bool Builds(string projection) => _projections.Contains(projection);

    // Archived jobs count in the statistics, and in no other read model.
    private bool FoldsArchived => Builds(JobStatsProjection.ProjectionName);

    /// <summary>
    /// A build of <paramref name="projections"/> (names in <see cref="JobReadModels.Names"/>) in <paramref name="schema"/>, dropped
    /// first if an earlier build left it. No job is archived until it is disposed (<see cref="ArchivingLock"/>).
    /// </summary>
    public static async Task<ShadowBuild> Create(IDocumentStore live, NpgsqlDataSource dataSource, FeedHorizon horizon, string schema,
        IReadOnlyCollection<string> projections, CancellationToken ct)
    {
        var archivingHeldOff = await ArchivingLock.Hold(dataSource, ct);
        ShadowBuild? build = null;
        try
        {
            var shadow = DocumentStore.For(options =>
            {
                EventStoreSetup.Configure(options, JobEvent.TypeNames);
                JobReadModels.ConfigureDocuments(options);
                options.DatabaseSchemaName = schema;
                options.Connection(dataSource);
            });
            build = new ShadowBuild(live, dataSource, horizon, shadow, schema, projections, archivingHeldOff);
            await Execute(dataSource, $"DROP SCHEMA IF EXISTS {schema} CASCADE", ct);
            await shadow.Storage.Database.EnsureStorageExistsAsync(typeof(JobStatusView), ct);
            await shadow.Storage.Database.EnsureStorageExistsAsync(typeof(JobResultView), ct);
            await Execute(dataSource, JobStatsProjection.TableIn(schema).ToCreateSql(new PostgresqlMigrator()), ct);
            // Autovacuum would visit the freshly filled copies, and the swap would wait for it to give way (a second per
            // table: deadlock_timeout) with appends held. The copies are analyzed once built instead (Prepare).
            foreach (var table in JobReadModels.Tables.Values)
                await Execute(dataSource, $"ALTER TABLE {schema}.{table.Name} SET (autovacuum_enabled = false)", ct);
            await build.RequireSameColumns(ct);
            await build.DeferIndexes(ct);
            return build;
        }
        catch
        {
            await (build?.DisposeAsync() ?? archivingHeldOff.DisposeAsync());
            throw;
        }
    }

    /// <summary>
    /// Drops the copies' indexes other than their primary keys, to be made again once the copies are filled (<see cref="Build"/>):
    /// PostgreSQL builds an index over a full table faster than it keeps it up to date row by row, and the status table has
    /// nine. The primary keys stay, for the upserts of the catch-up.
    /// </summary>
    private async Task DeferIndexes(CancellationToken ct)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index AS i JOIN pg_class AS t ON t.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace
            WHERE n.nspname = $1 AND NOT i.indisprimary
            """);
        command.Parameters.Add(new() { Value = Schema });
        var indexes = new List<(string Name, string Definition)>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                indexes.Add((reader.GetString(0), reader.GetString(1)));
        }
        foreach (var (name, definition) in indexes)
        {
            await Execute(_dataSource, $"DROP INDEX {name}", ct);
            _deferredIndexes.Add(definition);
        }
    }

    /// <summary>The live service's functions write the swapped-in tables: their columns must be the live tables' to the letter.</summary>
    private async Task RequireSameColumns(CancellationToken ct)
    {
        foreach (var table in JobReadModels.Tables.Values.Select(t => t.Name))
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

    /// <summary>Folds every stream (those archived only when they count), up to the feed's horizon now, into the copy.</summary>
    public async Task Build(IProgress<BuildProgress> progress, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var upTo = await _horizon.Settled(ct);
        var total = await Scalar<long>(null, $"SELECT count(*) FROM {EventStoreSetup.Schema}.mt_events WHERE seq_id <= $1 AND (NOT is_archived OR $2)", ct, upTo, FoldsArchived);
        long done = 0;
        // The next page is read while this one is folded and written: PostgreSQL reads as the service folds.
        var next = ReadPage(after: null, upTo, ct);
        while (true)
        {
            var (streams, tenants) = await next;
            if (streams.Length == 0)
                break;
            next = ReadPage(streams[^1], upTo, ct);
            foreach (var (tenantId, events) in tenants)
            {
                await Write(tenantId, events, transaction: null, bulk: true, ct);
                done += events.Count;
            }
            progress.Report(new BuildProgress(done, total, clock.Elapsed));
        }
        foreach (var definition in _deferredIndexes)
            await Execute(_dataSource, definition, ct);
        _deferredIndexes.Clear();
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
        // The planner's statistics for the new tables, there from their first query on; taken before the catch-up, as
        // what moves while they are taken (a second or two) would otherwise be left to fold with appends held.
        foreach (var table in _projections.Select(p => JobReadModels.Tables[p]))
            await Execute(_dataSource, $"ANALYZE {Schema}.{table.Name}", ct);
        // Each round folds what moved during the one before: under steady appends it shrinks to what arrives in one short
        // round, and stops shrinking there (stopping at the first round that did not halve left 11,000 streams to fold
        // with appends held, 2.8 s).
        var moved = int.MaxValue;
        for (var round = 0; round < CatchUpRounds; round++)
        {
            var before = moved;
            moved = await CatchUp(ct);
            if (moved <= FewEnoughToHold || moved >= before)
                break;
        }
    }

    private const int CatchUpRounds = 20;
    private const int FewEnoughToHold = 20;

    /// <summary>Folds again the streams that moved since the last build or catch-up, up to the horizon now; returns how many.</summary>
    public async Task<int> CatchUp(CancellationToken ct)
    {
        var upTo = await _horizon.Settled(ct);
        var moved = await FoldMoved(_builtUpTo, upTo, transaction: null, ct);
        _builtUpTo = upTo;
        return moved;
    }

    /// <summary>
    /// Catches up one last time with appends held (a SHARE lock on the streams table, which every append writes), then moves
    /// the live tables out and the copies in, in one transaction: readers see the old tables or the new ones, never a
    /// half-built one. Returns how long appends were held.
    /// </summary>
    public async Task<TimeSpan> TakeOver(CancellationToken ct)
    {
        var retired = Schema + "_retired";
        await _archivingHeldOff.EnsureHeld(ct);
        for (var attempt = 1; ; attempt++)
        {
            await Execute(_dataSource, $"DROP SCHEMA IF EXISTS {retired} CASCADE; CREATE SCHEMA {retired}", ct);
            try
            {
                var held = await TrySwap(retired, ct);
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

    private async Task<TimeSpan> TrySwap(string retired, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var held = System.Diagnostics.Stopwatch.StartNew();
        await using (var hold = new NpgsqlCommand($"SET LOCAL lock_timeout = '2s'; LOCK TABLE {EventStoreSetup.Schema}.mt_streams IN SHARE MODE", connection, transaction))
            await hold.ExecuteNonQueryAsync(ct);
        // Every append that numbered events has committed or waits on the lock: the highest number is final.
        long highest;
        await using (var read = new NpgsqlCommand($"SELECT coalesce(max(seq_id), 0) FROM {EventStoreSetup.Schema}.mt_events", connection, transaction))
            highest = (long)(await read.ExecuteScalarAsync(ct))!;
        // In the lock's transaction: no connection to wait for from a pool that appends held in this process may have
        // emptied (most of the hold, measured in ./bench), and the fold commits with the swap.
        await FoldMoved(_builtUpTo, highest, transaction, ct);
        foreach (var table in _projections.Select(p => JobReadModels.Tables[p]))
        {
            // The daemon's batch in flight, if any, holds the statistics' table: the swap waits for it (its events are
            // among those just folded), and the next batch goes to the new table.
            await using var swap = new NpgsqlCommand($"""
                ALTER TABLE {EventStoreSetup.Schema}.{table.Name} SET SCHEMA {retired};
                ALTER TABLE {Schema}.{table.Name} SET SCHEMA {EventStoreSetup.Schema};
                ALTER TABLE {EventStoreSetup.Schema}.{table.Name} RESET (autovacuum_enabled)
                """, connection, transaction);
            await swap.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
        // Only now: a swap given up (and tried again) rolls back what it folded, which the next attempt folds again.
        _builtUpTo = highest;
        return held.Elapsed;
    }

    /// <summary>
    /// The rows of <paramref name="projection"/>'s live table and of the copy that differ (by an MD5 of each row's JSON), up to
    /// <paramref name="limit"/>, compared in one snapshot of the database. In it, an inline table shows exactly the events the
    /// snapshot shows (they commit together), and the statistics exactly those up to the daemon's progress (committed with its
    /// writes): the copy is folded up to the same point in the same snapshot, so a job that moves meanwhile is no difference.
    /// The snapshot's folds are rolled back; the copy stays as built.
    /// </summary>
    public async Task<(long Live, long Rebuilt, IReadOnlyList<RowDifference> Differences)> Compare(string projection, int limit, CancellationToken ct)
    {
        var table = JobReadModels.Tables[projection];
        if (!table.Inline)
            await WaitForTheDaemon(ct);
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var snapshot = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var upTo = table.Inline ? long.MaxValue : await Scalar<long>(snapshot, $"""
            SELECT coalesce(max(last_seq_id), 0) FROM {EventStoreSetup.Schema}.mt_event_progression WHERE name LIKE $1
            """, ct, JobStatsProjection.ProjectionName + ":%");
        await FoldMoved(_builtUpTo, upTo, snapshot, ct);
        var differences = await Differences(table, limit, snapshot, ct);
        var live = await Scalar<long>(snapshot, $"SELECT count(*) FROM {EventStoreSetup.Schema}.{table.Name}", ct);
        var rebuilt = await Scalar<long>(snapshot, $"SELECT count(*) FROM {Schema}.{table.Name}", ct);
        await snapshot.RollbackAsync(ct);
        return (live, rebuilt, differences);
    }

    /// <summary>
    /// The statistics trail the events: waits (up to 10 s, long enough for a running daemon to apply a few thousand events)
    /// until the daemon has applied every event the copy has folded. A stopped daemon never does, and the difference shows.
    /// </summary>
    private async Task WaitForTheDaemon(CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stats = new JobStatsQueries(_dataSource, _live);
        while (await stats.ProjectedUpTo(ct) < _builtUpTo && clock.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Execute(_dataSource, $"DROP SCHEMA IF EXISTS {Schema} CASCADE", CancellationToken.None);
        }
        finally
        {
            _shadow.Dispose();
            await _archivingHeldOff.DisposeAsync();
        }
    }

    /// <summary>Folds again, up to <paramref name="upTo"/>, the streams with events after <paramref name="after"/>; returns how many.</summary>
    private async Task<int> FoldMoved(long after, long upTo, NpgsqlTransaction? transaction, CancellationToken ct)
    {
        var moved = await Streams(transaction, $"""
            SELECT DISTINCT tenant_id, stream_id FROM {EventStoreSetup.Schema}.mt_events WHERE seq_id > $1 AND seq_id <= $2 AND (NOT is_archived OR $3)
            """, ct, after, upTo, FoldsArchived);
        foreach (var page in moved.Chunk(StreamsPerPage))
        {
            foreach (var (tenantId, events) in await Read(page, upTo, transaction, ct))
                await Write(tenantId, events, transaction, bulk: false, ct);
        }
        return moved.Length;
    }

    private async Task<((string TenantId, Guid Id)[] Streams, List<(string TenantId, IReadOnlyList<IEvent> Events)> Tenants)> ReadPage(
        (string TenantId, Guid Id)? after, long upTo, CancellationToken ct)
    {
        var streams = await StreamPage(after, ct);
        return (streams, await Read(streams, upTo, transaction: null, ct));
    }

    /// <summary>The events of <paramref name="streams"/> up to <paramref name="upTo"/>, a tenant at a time, each tenant's in stream and version order.</summary>
    private async Task<List<(string TenantId, IReadOnlyList<IEvent> Events)>> Read(
        (string TenantId, Guid Id)[] streams, long upTo, NpgsqlTransaction? transaction, CancellationToken ct)
    {
        var tenants = new List<(string, IReadOnlyList<IEvent>)>();
        foreach (var tenant in streams.GroupBy(s => s.TenantId, s => s.Id))
        {
            var ids = tenant.ToArray();
            await using var session = _live.QuerySession(In(transaction, tenant.Key));
            var query = session.Events.QueryAllRawEvents().Where(e => e.StreamId.IsOneOf(ids) && e.Sequence <= upTo);
            if (FoldsArchived)
                query = query.Where(e => e.MaybeArchived());
            // By tenant, stream and version, as the events' unique index has them; in any other order PostgreSQL walks
            // the whole event table for each page.
            tenants.Add((tenant.Key, await query.OrderBy(e => e.StreamId).ThenBy(e => e.Version).ToListAsync(ct)));
        }
        return tenants;
    }

    /// <summary>
    /// Folds one tenant's events (in stream and version order) and writes what they make: in bulk into the empty copy, else
    /// documents as upserts and the statistics by their projection's own statements, which may be applied again.
    /// </summary>
    private async Task Write(string tenantId, IReadOnlyList<IEvent> events, NpgsqlTransaction? transaction, bool bulk, CancellationToken ct)
    {
        var statuses = new List<JobStatusView>();
        var results = new List<JobResultView>();
        var stats = new List<JobStatsRow>();
        var statsCopy = $"{Schema}.{JobStatsProjection.TableName}";
        await using var write = _shadow.LightweightSession(In(transaction, tenantId));
        foreach (var stream in events.GroupBy(e => e.StreamId))
        {
            if (Builds(JobStatsProjection.ProjectionName))
            {
                if (!bulk)
                {
                    foreach (var e in stream)
                        JobStatsProjection.Apply(write, e, statsCopy);
                }
                else if (stream.Aggregate((JobStatsRow?)null, JobStatsProjection.Evolve) is { } row)
                {
                    stats.Add(row);
                }
            }
            if (stream.First().IsArchived)
                continue;
            if (Builds(JobStatusProjection.ProjectionName) && stream.Aggregate((JobStatusView?)null, (v, e) => StatusProjection.Evolve(v, stream.Key, e)) is { } view)
                statuses.Add(view);
            if (Builds(JobResultProjection.ProjectionName) && stream.Select(JobResultProjection.ResultOf).LastOrDefault(r => r is not null) is { } result)
                results.Add(result);
        }
        if (bulk)
        {
            await _shadow.BulkInsertAsync(tenantId, statuses, cancellation: ct);
            await _shadow.BulkInsertAsync(tenantId, results, cancellation: ct);
            await JobStatsProjection.CopyInto(_dataSource, statsCopy, stats, ct);
        }
        else
        {
            write.Store<JobStatusView>(statuses);
            write.Store<JobResultView>(results);
        }
        await write.SaveChangesAsync(ct);
    }

    /// <summary>A session of <paramref name="tenantId"/>, in <paramref name="transaction"/> when there is one (it then neither opens nor commits one).</summary>
    private static SessionOptions In(NpgsqlTransaction? transaction, string tenantId)
    {
        var options = transaction is null ? new SessionOptions() : SessionOptions.ForTransaction(transaction);
        options.TenantId = tenantId;
        return options;
    }

    private Task<(string TenantId, Guid Id)[]> StreamPage((string TenantId, Guid Id)? after, CancellationToken ct) => after is var (tenant, id)
        ? Streams(null, $"""
            SELECT tenant_id, id FROM {EventStoreSetup.Schema}.mt_streams WHERE (NOT is_archived OR $1) AND (tenant_id, id) > ($2, $3)
            ORDER BY tenant_id, id LIMIT {StreamsPerPage}
            """, ct, FoldsArchived, tenant, id)
        : Streams(null, $"SELECT tenant_id, id FROM {EventStoreSetup.Schema}.mt_streams WHERE (NOT is_archived OR $1) ORDER BY tenant_id, id LIMIT {StreamsPerPage}", ct, FoldsArchived);

    private async Task<List<RowDifference>> Differences(ReadModelTable table, int limit, NpgsqlTransaction snapshot, CancellationToken ct)
    {
        string Md5(string row) => $"CASE WHEN {row}.{table.JobColumn} IS NOT NULL THEN md5(row({string.Join(", ", table.ComparedColumns.Select(c => $"{row}.{c}"))})::text) END";
        await using var command = new NpgsqlCommand($"""
            SELECT coalesce(l.tenant_id, r.tenant_id), coalesce(l.{table.JobColumn}, r.{table.JobColumn}), {Md5("l")}, {Md5("r")}
            FROM {EventStoreSetup.Schema}.{table.Name} AS l FULL JOIN {Schema}.{table.Name} AS r ON r.tenant_id = l.tenant_id AND r.{table.JobColumn} = l.{table.JobColumn}
            WHERE {Md5("l")} IS DISTINCT FROM {Md5("r")}
            ORDER BY 1, 2
            LIMIT {limit}
            """, snapshot.Connection, snapshot);
        var differences = new List<RowDifference>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            differences.Add(new RowDifference(reader.GetString(0), reader.GetGuid(1),
                reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }
        return differences;
    }

    private async Task<(string TenantId, Guid Id)[]> Streams(NpgsqlTransaction? transaction, string sql, CancellationToken ct, params object[] parameters)
    {
        await using var command = Command(transaction, sql, parameters);
        var streams = new List<(string, Guid)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            streams.Add((reader.GetString(0), reader.GetGuid(1)));
        return [.. streams];
    }

    private async Task<T> Scalar<T>(NpgsqlTransaction? transaction, string sql, CancellationToken ct, params object[] parameters)
    {
        await using var command = Command(transaction, sql, parameters);
        return (T)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>A command in <paramref name="transaction"/>, or on a connection of the pool's when there is none.</summary>
    private NpgsqlCommand Command(NpgsqlTransaction? transaction, string sql, object[] parameters)
    {
        var command = transaction is null ? _dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, transaction.Connection, transaction);
        foreach (var parameter in parameters)
            command.Parameters.Add(new() { Value = parameter });
        return command;
    }

    private static async Task Execute(NpgsqlDataSource dataSource, string sql, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>A row the live table and the rebuilt copy disagree on: the MD5 of each one's JSON, null where the row is missing.</summary>
public sealed record RowDifference(string TenantId, Guid Id, string? LiveMd5, string? RebuiltMd5);
