using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace EventSourced.EventStore;

/// <summary>
/// An event store on PostgreSQL, shaped like Marten's: one row per stream in streams, whose
/// version is the optimistic-concurrency gate, and the events in one table with a global
/// sequence number. Registered projections run inline, in the appending transaction.
/// </summary>
public sealed partial class PostgresEventStore(NpgsqlDataSource dataSource, EventTypes types, IEnumerable<IProjection> projections)
{
    /// <summary>Every commit that appends notifies this channel with "streamId:lastSeq" entries (named again in the append's SQL).</summary>
    public const string NotificationChannel = "events_appended";

    private const int MaxBatch = 256;
    private readonly IReadOnlyList<IProjection> _projections = [.. projections];
    private Batcher<StreamAppend, AppendOutcome>? _appends;
    private Batcher<(Guid StreamId, long FromVersion), IReadOnlyList<StoredEvent>>? _streamReads;

    /// <summary>
    /// Group commit for single appends: those that arrive while a write is under way go into the next
    /// one. One append per stream per write keeps each stream's order; a write that fails as a whole
    /// (a projection throws on one append) is retried append by append.
    /// </summary>
    private Batcher<StreamAppend, AppendOutcome> Appends =>
        _appends ??= new Batcher<StreamAppend, AppendOutcome>(appends => AppendMany(appends), MaxBatch, a => a.StreamId, retryAloneOnFailure: true);

    /// <summary>Reads of single streams that arrive together (SSE streams woken by one commit) are answered by one query.</summary>
    private Batcher<(Guid StreamId, long FromVersion), IReadOnlyList<StoredEvent>> StreamReads =>
        _streamReads ??= new Batcher<(Guid StreamId, long FromVersion), IReadOnlyList<StoredEvent>>(ReadStreams, MaxBatch);

    public NpgsqlDataSource DataSource => dataSource;
    public EventTypes Types => types;
    public IReadOnlyList<IProjection> Projections => _projections;

    /// <summary>
    /// Starts a new stream; throws <see cref="StreamAlreadyExistsException"/> when the id is taken.
    /// Appends that arrive together are written together (group commit): durable when this returns.
    /// </summary>
    public async Task<AppendResult> StartStream(
        Guid streamId, string streamType, IReadOnlyList<object> events, EventMetadata? metadata = null,
        string tenantId = Tenants.Default, CancellationToken ct = default)
    {
        var outcome = await Appends.Run(new StreamAppend(streamId, ExpectedVersion.NoStream, events, metadata, streamType, tenantId), ct);
        return outcome.GetResultOrThrow();
    }

    /// <summary>
    /// Appends to an existing stream at <paramref name="expectedVersion"/>; throws <see cref="WrongExpectedVersionException"/>
    /// otherwise. Written together with the appends that arrive at the same moment, durable when this returns.
    /// </summary>
    public async Task<AppendResult> Append(
        Guid streamId, long expectedVersion, IReadOnlyList<object> events, EventMetadata? metadata = null, CancellationToken ct = default)
    {
        var outcome = await Appends.Run(new StreamAppend(streamId, expectedVersion, events, metadata), ct);
        return outcome.GetResultOrThrow();
    }

    /// <summary>Appends to several streams in one transaction; each append succeeds or is refused on its own.</summary>
    public async Task<IReadOnlyList<AppendOutcome>> AppendMany(IReadOnlyList<StreamAppend> appends, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Without projections the append is one statement, its own transaction: one round trip.
        if (_projections.Count == 0)
            return await AppendMany(connection, appends, ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var outcomes = await AppendMany(connection, appends, ct);
        // Once the events are written, the commit is not abandoned halfway for a caller that stopped waiting.
        await transaction.CommitAsync(CancellationToken.None);
        return outcomes;
    }

    /// <summary>
    /// Appends inside the caller's open transaction on <paramref name="connection"/> (a claim that
    /// locked rows first, say). Nothing is visible, and nobody is notified, until the caller commits.
    /// </summary>
    public async Task<IReadOnlyList<AppendOutcome>> AppendMany(NpgsqlConnection connection, IReadOnlyList<StreamAppend> appends, CancellationToken ct)
    {
        var prepared = Prepare(appends);
        var written = await Write(connection, prepared, ct);
        var outcomes = await Outcomes(connection, prepared, written, ct);

        var accepted = outcomes.Where(o => o.Result is not null).SelectMany(o => o.Result!.Events).OrderBy(e => e.Seq).ToList();
        if (accepted.Count > 0)
        {
            foreach (var projection in _projections)
                await projection.Apply(connection, accepted, ct);
        }
        return outcomes;
    }

    private static void Validate(IReadOnlyList<StreamAppend> appends)
    {
        var streamIds = new HashSet<Guid>();
        foreach (var append in appends)
        {
            if (append.Events.Count == 0)
                throw new ArgumentException($"The append to stream {append.StreamId} has no events.", nameof(appends));
            if (append.ExpectedVersion < 0)
                throw new ArgumentException($"The expected version of stream {append.StreamId} is negative.", nameof(appends));
            if (append.ExpectedVersion == ExpectedVersion.NoStream && string.IsNullOrEmpty(append.StreamType))
                throw new ArgumentException($"Starting stream {append.StreamId} needs a stream type.", nameof(appends));
            // One statement moves each stream's version once; two appends to one stream belong in one append.
            if (!streamIds.Add(append.StreamId))
                throw new ArgumentException($"Stream {append.StreamId} appears twice in one batch.", nameof(appends));
        }
    }

    private const string AppendSql = """
        WITH request AS (
            SELECT *
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::int[])
                AS r (stream_id, stream_type, tenant_id, expected_version, event_count)
        ),
        -- A new stream: the primary key refuses an id that exists, without failing the others.
        started AS (
            INSERT INTO streams AS s (id, type, tenant_id, version)
            SELECT stream_id, stream_type, tenant_id, event_count FROM request WHERE expected_version = 0
            ON CONFLICT (id) DO NOTHING
            RETURNING s.id, s.version
        ),
        -- An existing stream moves only from the expected version; its row lock orders the writers.
        advanced AS (
            UPDATE streams AS s SET version = s.version + r.event_count, updated_at = now()
            FROM request AS r
            WHERE r.expected_version > 0 AND s.id = r.stream_id AND s.version = r.expected_version
            RETURNING s.id, s.version
        ),
        accepted AS (
            SELECT id, version FROM started UNION ALL SELECT id, version FROM advanced
        ),
        new_events AS (
            SELECT e.*, row_number() OVER (PARTITION BY e.stream_id ORDER BY e.ordinal) AS n
            FROM unnest($6::uuid[], $7::uuid[], $8::text[], $9::jsonb[], $10::jsonb[]) WITH ORDINALITY
                AS e (stream_id, id, type, data, metadata, ordinal)
        ),
        -- Rows are numbered in the order given, so within a stream seq_id grows with version.
        inserted AS (
            INSERT INTO events (id, stream_id, version, type, data, metadata, tenant_id)
            SELECT e.id, e.stream_id, a.version - r.event_count + e.n, e.type, e.data, e.metadata, r.tenant_id
            FROM new_events AS e
            JOIN accepted AS a ON a.id = e.stream_id
            JOIN request AS r ON r.stream_id = e.stream_id
            ORDER BY e.ordinal
            RETURNING id, seq_id, stream_id, version, timestamp, transaction_id
        ),
        -- Listeners hear "streamId:lastSeq,..." at commit, a hundred streams to a notification
        -- (payloads must stay under 8000 bytes). Queued here, it costs no round trip of its own.
        notified AS (
            SELECT pg_notify('events_appended', string_agg(replace(stream_id::text, '-', '') || ':' || last_seq, ','))
            FROM (SELECT stream_id, max(seq_id) AS last_seq, row_number() OVER () / 100 AS chunk FROM inserted GROUP BY stream_id) AS s
            GROUP BY chunk
        )
        SELECT id, seq_id, version, timestamp, transaction_id
        FROM inserted
        WHERE (SELECT count(*) FROM notified) >= 0
        """;

    /// <summary>An append with the ids and stored type names of its events.</summary>
    private sealed record PreparedAppend(StreamAppend Append, Guid[] EventIds, string[] TypeNames, string[] Data, string Metadata);

    private PreparedAppend[] Prepare(IReadOnlyList<StreamAppend> appends)
    {
        Validate(appends);
        return [.. appends.Select(a => new PreparedAppend(
            a,
            [.. a.Events.Select(_ => Guid.CreateVersion7())],
            [.. a.Events.Select(e => types.NameOf(e.GetType()))],
            [.. a.Events.Select(types.Serialize)],
            JsonSerializer.Serialize(a.Metadata ?? EventMetadata.None, EventTypes.Json)))];
    }

    private readonly record struct Written(long Seq, long Version, DateTimeOffset Timestamp, ulong TransactionId);

    /// <summary>One round trip for every stream and event of the batch; returns what was written, by event id.</summary>
    private static async Task<Dictionary<Guid, Written>> Write(NpgsqlConnection connection, PreparedAppend[] appends, CancellationToken ct)
    {
        var events = appends.SelectMany(p => p.EventIds.Select((id, i) => (p, id, i))).ToArray();
        await using var command = new NpgsqlCommand(AppendSql, connection)
        {
            Parameters =
            {
                new() { Value = appends.Select(p => p.Append.StreamId).ToArray() },
                new() { Value = appends.Select(p => p.Append.StreamType ?? "").ToArray() },
                new() { Value = appends.Select(p => p.Append.TenantId).ToArray() },
                new() { Value = appends.Select(p => p.Append.ExpectedVersion).ToArray() },
                new() { Value = appends.Select(p => p.Append.Events.Count).ToArray() },
                new() { Value = events.Select(e => e.p.Append.StreamId).ToArray() },
                new() { Value = events.Select(e => e.id).ToArray() },
                new() { Value = events.Select(e => e.p.TypeNames[e.i]).ToArray() },
                new() { Value = events.Select(e => e.p.Data[e.i]).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb },
                new() { Value = events.Select(e => e.p.Metadata).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb },
            },
        };
        var written = new Dictionary<Guid, Written>(events.Length);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            written[reader.GetGuid(0)] = new Written(
                reader.GetInt64(1), reader.GetInt64(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<ulong>(4));
        }
        return written;
    }

    private async Task<AppendOutcome[]> Outcomes(
        NpgsqlConnection connection, PreparedAppend[] appends, Dictionary<Guid, Written> written, CancellationToken ct)
    {
        var refused = appends.Where(p => !written.ContainsKey(p.EventIds[0])).Select(p => p.Append.StreamId).ToArray();
        var actualVersions = refused.Length == 0 ? [] : await StreamVersions(connection, refused, ct);
        return [.. appends.Select(p => Outcome(p, written, actualVersions))];
    }

    private static AppendOutcome Outcome(PreparedAppend prepared, Dictionary<Guid, Written> written, Dictionary<Guid, long> actualVersions)
    {
        var append = prepared.Append;
        if (!written.ContainsKey(prepared.EventIds[0]))
        {
            EventStoreException error = append.ExpectedVersion == ExpectedVersion.NoStream
                ? new StreamAlreadyExistsException(append.StreamId)
                : new WrongExpectedVersionException(append.StreamId, append.ExpectedVersion,
                    actualVersions.TryGetValue(append.StreamId, out var actual) ? actual : null);
            return new AppendOutcome(append, null, error);
        }
        var metadata = append.Metadata ?? EventMetadata.None;
        var stored = new StoredEvent[append.Events.Count];
        for (var i = 0; i < stored.Length; i++)
        {
            var w = written[prepared.EventIds[i]];
            stored[i] = new StoredEvent(w.Seq, prepared.EventIds[i], append.StreamId, w.Version, prepared.TypeNames[i],
                append.Events[i], metadata, append.TenantId, w.Timestamp, w.TransactionId);
        }
        return new AppendOutcome(append, new AppendResult(append.StreamId, stored[^1].Version, stored), null);
    }
}
