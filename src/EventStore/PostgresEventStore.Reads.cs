using Npgsql;
using NpgsqlTypes;

namespace EventSourced.EventStore;

public sealed partial class PostgresEventStore
{
    private const string EventColumns = "seq_id, id, stream_id, version, type, data, metadata, tenant_id, timestamp, transaction_id";

    /// <summary>A stream's events from <paramref name="fromVersion"/> on, in version order. Reads that arrive together share one query.</summary>
    public Task<IReadOnlyList<StoredEvent>> ReadStream(Guid streamId, long fromVersion = 1, CancellationToken ct = default) =>
        StreamReads.Run((streamId, fromVersion), ct);

    private async Task<IReadOnlyList<IReadOnlyList<StoredEvent>>> ReadStreams(IReadOnlyList<(Guid StreamId, long FromVersion)> requests)
    {
        // One row per stream asked for, from the lowest version any request wants; each request then takes its own part.
        var lowest = requests.GroupBy(r => r.StreamId).ToDictionary(g => g.Key, g => g.Min(r => r.FromVersion));
        var events = await Read($"""
            SELECT {EventColumns}
            FROM unnest($1::uuid[], $2::bigint[]) AS wanted (wanted_stream, from_version)
            JOIN events ON stream_id = wanted_stream AND version >= from_version
            ORDER BY stream_id, version
            """, [new() { Value = lowest.Keys.ToArray() }, new() { Value = lowest.Values.ToArray() }], CancellationToken.None);
        var byStream = events.GroupBy(e => e.StreamId).ToDictionary(g => g.Key, g => g.ToList());
        return [.. requests.Select(r => (IReadOnlyList<StoredEvent>)[.. byStream.GetValueOrDefault(r.StreamId, []).Where(e => e.Version >= r.FromVersion)])];
    }

    /// <summary>A stream's events after the global sequence number <paramref name="afterSeq"/> (what an SSE reconnect missed).</summary>
    public Task<IReadOnlyList<StoredEvent>> ReadStreamAfterSeq(Guid streamId, long afterSeq, CancellationToken ct = default) =>
        Read($"SELECT {EventColumns} FROM events WHERE stream_id = $1 AND seq_id > $2 ORDER BY version",
            [new() { Value = streamId }, new() { Value = afterSeq }], ct);

    /// <summary>Several streams' events, stream by stream in version order, on the caller's connection (inside its transaction).</summary>
    public Task<IReadOnlyList<StoredEvent>> ReadStreams(NpgsqlConnection connection, Guid[] streamIds, CancellationToken ct) =>
        Read(connection, $"SELECT {EventColumns} FROM events WHERE stream_id = ANY($1) ORDER BY stream_id, version",
            [new() { Value = streamIds }], ct);

    /// <summary>The stream as it was at <paramref name="version"/>.</summary>
    public Task<IReadOnlyList<StoredEvent>> ReadStreamAsOf(Guid streamId, long version, CancellationToken ct = default) =>
        Read($"SELECT {EventColumns} FROM events WHERE stream_id = $1 AND version <= $2 ORDER BY version",
            [new() { Value = streamId }, new() { Value = version }], ct);

    /// <summary>The stream as it was at <paramref name="timestamp"/> (the events' commit-time clock).</summary>
    public Task<IReadOnlyList<StoredEvent>> ReadStreamAsOf(Guid streamId, DateTimeOffset timestamp, CancellationToken ct = default) =>
        Read($"SELECT {EventColumns} FROM events WHERE stream_id = $1 AND timestamp <= $2 ORDER BY version",
            [new() { Value = streamId }, new() { Value = timestamp.ToUniversalTime() }], ct);

    /// <summary>
    /// The global feed after <paramref name="after"/>, oldest first. Only events whose transaction
    /// is older than every running one are read, so a reader that moves on never skips an event
    /// that commits late: it is read later, in its transaction's place. The page also says whether
    /// committed events are being held back that way, judged in the same snapshot: a reader should
    /// then look again soon, since no notification announces the moment the older transaction ends.
    /// </summary>
    public async Task<FeedPage> ReadAll(GlobalPosition after, int limit, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH horizon AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
            page AS (
                SELECT {EventColumns} FROM events, horizon
                WHERE (transaction_id, seq_id) > ($1, $2) AND transaction_id < horizon.xmin
                ORDER BY transaction_id, seq_id
                LIMIT $3
            )
            -- One row even for an empty page, to carry the flag.
            SELECT page.*,
                   EXISTS (SELECT FROM events, horizon WHERE (transaction_id, seq_id) > ($1, $2) AND transaction_id >= horizon.xmin)
            FROM (VALUES (1)) AS always
            LEFT JOIN page ON true
            ORDER BY page.transaction_id, page.seq_id
            """);
        command.Parameters.Add(new() { Value = after.TransactionId, NpgsqlDbType = NpgsqlDbType.Xid8 });
        command.Parameters.Add(new() { Value = after.Seq });
        command.Parameters.Add(new() { Value = limit });
        var events = new List<StoredEvent>();
        var heldBack = false;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            heldBack = reader.GetBoolean(10);
            if (!reader.IsDBNull(0))
                events.Add(ReadEvent(reader));
        }
        return new FeedPage(events, heldBack);
    }

    /// <summary>The stream's current version, or null when it does not exist.</summary>
    public async Task<long?> StreamVersion(Guid streamId, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var versions = await StreamVersions(connection, [streamId], ct);
        return versions.TryGetValue(streamId, out var version) ? version : null;
    }

    /// <summary>
    /// Replays every event, in sequence order, through <paramref name="projection"/> after clearing it.
    /// Appends wait while it runs (a SHARE lock on streams), readers keep seeing the old rows until
    /// it commits, and the lock means every event it reads has settled. Returns the events replayed.
    /// </summary>
    public async Task<long> Rebuild(IProjection projection, int batchSize = 5000, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var lockStreams = new NpgsqlCommand("LOCK TABLE streams IN SHARE MODE", connection))
            await lockStreams.ExecuteNonQueryAsync(ct);
        await projection.Clear(connection, ct);

        long replayed = 0, afterSeq = 0;
        while (true)
        {
            var batch = await Read(connection, $"SELECT {EventColumns} FROM events WHERE seq_id > $1 ORDER BY seq_id LIMIT $2",
                [new() { Value = afterSeq }, new() { Value = batchSize }], ct);
            if (batch.Count == 0)
                break;
            await projection.Apply(connection, batch, ct);
            replayed += batch.Count;
            afterSeq = batch[^1].Seq;
        }
        await transaction.CommitAsync(ct);
        return replayed;
    }

    private static async Task<Dictionary<Guid, long>> StreamVersions(NpgsqlConnection connection, Guid[] streamIds, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT id, version FROM streams WHERE id = ANY($1)", connection)
        {
            Parameters = { new() { Value = streamIds } },
        };
        var versions = new Dictionary<Guid, long>(streamIds.Length);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            versions[reader.GetGuid(0)] = reader.GetInt64(1);
        return versions;
    }

    private async Task<IReadOnlyList<StoredEvent>> Read(string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await Read(connection, sql, parameters, ct);
    }

    private async Task<IReadOnlyList<StoredEvent>> Read(NpgsqlConnection connection, string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var events = new List<StoredEvent>();
        while (await reader.ReadAsync(ct))
            events.Add(ReadEvent(reader));
        return events;
    }

    /// <summary>A row of <see cref="EventColumns"/>, in that order.</summary>
    private StoredEvent ReadEvent(NpgsqlDataReader reader)
    {
        var typeName = reader.GetString(4);
        return new StoredEvent(
            Seq: reader.GetInt64(0),
            Id: reader.GetGuid(1),
            StreamId: reader.GetGuid(2),
            Version: reader.GetInt64(3),
            TypeName: typeName,
            Data: types.Deserialize(typeName, reader.GetString(5)),
            Metadata: System.Text.Json.JsonSerializer.Deserialize<EventMetadata>(reader.GetString(6), EventTypes.Json) ?? EventMetadata.None,
            TenantId: reader.GetString(7),
            Timestamp: reader.GetFieldValue<DateTimeOffset>(8),
            TransactionId: reader.GetFieldValue<ulong>(9));
    }
}
