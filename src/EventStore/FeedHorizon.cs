using Marten;
using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// The highest global sequence number below which the event log is final: every event at or below it that will ever
/// commit has committed. A reader of the global feed reads only up to it, so it never passes an event whose transaction
/// commits late (sequence numbers are taken before the commit, and commits finish out of order).
///
/// Marten's high-water mark needs its async daemon and, after a few seconds, skips a gap whose transaction is still open;
/// it would let a slow transaction's events be missed for good. This takes no locks and skips nothing: it notes the
/// highest committed number M and the transactions that had numbered events and were still open at that moment; once all
/// of those have ended, M is final, as any event numbered below M was numbered by a transaction that had either ended or
/// was among them.
/// </summary>
public sealed class FeedHorizon(NpgsqlDataSource dataSource, TimeProvider clock)
{
    // How often the open transactions are looked at, at most: readers in between share the answer.
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromMilliseconds(20);

    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private long _final;
    private DateTimeOffset _finalAsOf = DateTimeOffset.MinValue;
    private (long Highest, (int Pid, DateTime Started)[] Open, DateTimeOffset TakenAt)? _pending;
    private DateTimeOffset _lastRefresh = DateTimeOffset.MinValue;

    /// <summary>
    /// Every session that appends must call this before SaveChangesAsync (group commit does, for the write port every append goes
    /// through; claims and sweeps append in a transaction already open). Marten (Rich appends) takes the events' numbers
    /// with a nextval() of its own before it opens the transaction that writes them, so the number would be taken outside
    /// any transaction, no lock would show the append in flight, and the horizon could pass it. In an open transaction
    /// the lock nextval() takes is held until the events commit.
    /// </summary>
    public static ValueTask OpenTransactionBeforeNumbering(IDocumentSession session, CancellationToken ct) => session.BeginTransactionAsync(ct);

    /// <summary>
    /// The final sequence number as of a moment after this call began: waits (a few refreshes) for the transactions open
    /// now to end. For a reader that must see everything committed before it started, such as a rebuild.
    /// </summary>
    public async Task<long> Settled(CancellationToken ct)
    {
        var start = clock.GetUtcNow();
        while (true)
        {
            var final = await Current(ct);
            if (_finalAsOf >= start)
                return final;
            await Task.Delay(RefreshEvery, clock, ct);
        }
    }

    /// <summary>The final sequence number as of now (it lags commits by about the length of the transactions open at the time).</summary>
    public async Task<long> Current(CancellationToken ct)
    {
        await _refreshing.WaitAsync(ct);
        try
        {
            if (clock.GetUtcNow() - _lastRefresh >= RefreshEvery)
            {
                await Refresh(ct);
                _lastRefresh = clock.GetUtcNow();
            }
            return _final;
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private async Task Refresh(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        if (_pending is { } pending)
        {
            var open = await OpenTransactions(connection, ct);
            if (!pending.Open.Any(open.Contains))
            {
                (_final, _finalAsOf) = (Math.Max(_final, pending.Highest), pending.TakenAt);
                _pending = null;
            }
        }
        if (_pending is null)
        {
            // The highest number first, then the transactions open after it: one that numbered an event below it is
            // either over by then or in the list.
            var takenAt = clock.GetUtcNow();
            var highest = await Highest(connection, ct);
            var open = await OpenTransactions(connection, ct);
            if (open.Count == 0)
                (_final, _finalAsOf) = (Math.Max(_final, highest), takenAt);
            else
                _pending = (highest, [.. open], takenAt);
        }
    }

    private static async Task<long> Highest(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT coalesce(max(seq_id), 0) FROM {EventStoreSetup.Schema}.mt_events", connection);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// The transactions that may have numbered events: nextval() holds a lock on the events' sequence until its transaction
    /// ends, so these are exactly the holders of one (a session idle in another transaction, or Marten's daemon waiting on its
    /// leadership lock, is not among them). Each is known by its process and when its transaction began.
    /// </summary>
    private static async Task<HashSet<(int Pid, DateTime Started)>> OpenTransactions(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT a.pid, a.xact_start
            FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
            WHERE l.locktype = 'relation' AND l.relation = '{EventStoreSetup.Schema}.mt_events_sequence'::regclass
              AND a.xact_start IS NOT NULL AND l.pid <> pg_backend_pid()
            """, connection);
        var open = new HashSet<(int, DateTime)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            open.Add((reader.GetInt32(0), reader.GetDateTime(1)));
        return open;
    }
}
