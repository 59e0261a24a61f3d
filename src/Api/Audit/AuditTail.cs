using System.Text.Json;
using EventSourced.EventStore;
using EventSourced.EventStore.Notifications;
using EventSourced.Projections.Jobs;
using JasperFx.Events;
using Marten;
using Marten.Events.Archiving;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Audit;

/// <summary>One event of the tail's window: what a tail filters on, and its JSON, written once for every tail that sends it.</summary>
/// <param name="JobType">The type of its job as its status row says; null when the row is gone (the job was archived), as GET /events's jobType sees it.</param>
public sealed record TailEvent(long Seq, string TenantId, string? JobType, bool IsArchived, string Type, DateTimeOffset Timestamp, EventMetadata Metadata, byte[] Json);

/// <param name="Events">The matching events, in order.</param>
/// <param name="UpTo">How far they go: every event up to it was looked at, so a tail goes on after it.</param>
/// <param name="Moved">Completes when the window next moves.</param>
public sealed record TailRead(IReadOnlyList<TailEvent> Events, long UpTo, Task Moved);

public sealed class AuditTailOptions
{
    /// <summary>
    /// How much of the newest events the window keeps, in bytes of their JSON: 8 MiB, some 16,000 events of the usual 400 to 700 bytes.
    /// In bytes, not events: an event may carry a 1 MiB input or result, and ten thousand of those would not fit in memory.
    /// </summary>
    public int WindowBytes { get; set; } = 8 * 1024 * 1024;
}

/// <summary>
/// The reader behind every live audit tail (GET /events/stream) of this node. It reads each newly final range of the global
/// feed, every tenant's, once, up to the <see cref="FeedHorizon"/>, into a window of the newest events, and wakes the tails,
/// which filter the window in memory: one query per append for the node, where each tail ran its own. A tail whose place is
/// older than the window's start reads the database until it reaches the window. It reads only while a tail is connected.
/// </summary>
public sealed class AuditTail(IDocumentStore store, FeedHorizon horizon, EventNotifications notifications, IOptions<AuditTailOptions> options, ILogger<AuditTail> logger)
    : BackgroundService
{
    // An append is final a few horizon refreshes after it commits: look again that many times before waiting for the next.
    private const int FinalWithin = 5;

    // A backlog (after the database was away) is read and handed on a page at a time.
    private const int Page = 1000;

    // A transaction that rolls back sends no notification, though it held the horizon back: look again now and then.
    private static readonly TimeSpan LookAnyway = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DatabaseRetry = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();

    // The window: every event whose seq is in (_start, _end], in order; _bytes is their JSON's size.
    private readonly List<TailEvent> _events = [];
    private long _start, _end, _bytes;
    private TaskCompletionSource _moved = NewMoved();

    private int _tails;
    private readonly AsyncSignal _connected = new();

    /// <summary>Counts a connected tail until disposed: the window is read only while one is.</summary>
    public IDisposable Follow()
    {
        if (Interlocked.Increment(ref _tails) == 1)
            _connected.Set();
        return new Following(this);
    }

    /// <summary>
    /// The window's events after <paramref name="after"/> that match, at most <paramref name="limit"/>; null when
    /// <paramref name="after"/> is older than the window's start, and the events after it must be read from the database.
    /// </summary>
    public TailRead? Read(long after, Func<TailEvent, bool> matches, int limit)
    {
        lock (_lock)
        {
            if (after < _start)
                return null;
            var found = new List<TailEvent>();
            for (var i = FirstAfter(after); i < _events.Count && found.Count < limit; i++)
            {
                if (matches(_events[i]))
                    found.Add(_events[i]);
            }
            return new TailRead(found, found.Count == limit ? found[^1].Seq : Math.Max(after, _end), _moved.Task);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var wake = new WakeOnAnyAppend();
        using var subscription = notifications.Subscribe(wake);
        var (looks, idle) = (0, true);
        try
        {
            while (true)
            {
                try
                {
                    if (Volatile.Read(ref _tails) == 0)
                    {
                        // Nobody to read for: let the window go.
                        Restart(_end);
                        idle = true;
                        await _connected.Wait(Timeout.InfiniteTimeSpan, stopping);
                    }
                    else if (idle)
                    {
                        // A tail connected: start again at the horizon rather than read all that came meanwhile (a tail
                        // that wants it reads the database).
                        Restart(await horizon.Current(stopping));
                        idle = false;
                    }
                    else if (await ReadNewlyFinal(stopping))
                    {
                        looks = 0;
                    }
                    else if (looks++ < FinalWithin)
                    {
                        await Task.Delay(FeedHorizon.RefreshEvery, stopping);
                    }
                    else if (await wake.Signal.Wait(LookAnyway, stopping))
                    {
                        looks = 0;
                    }
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning("The audit tail could not read the feed: {Error}", e.Message);
                    await Task.Delay(DatabaseRetry, stopping);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads into the window what became final since it was last read; false when nothing did.</summary>
    private async Task<bool> ReadNewlyFinal(CancellationToken ct)
    {
        var upTo = await horizon.Current(ct);
        if (upTo <= _end)
            return false;
        await using var session = store.QuerySession();
        while (_end < upTo)
        {
            var after = _end;
            var events = await session.Events.QueryAllRawEvents()
                .Where(e => e.AnyTenant() && e.MaybeArchived() && e.Sequence > after && e.Sequence <= upTo)
                .OrderBy(e => e.Sequence).Take(Page).ToListAsync(ct);
            var jobTypes = await JobTypes(session, events, ct);
            Append([.. events.Select(e => From(e, jobTypes.GetValueOrDefault((e.TenantId, e.StreamId))))], events.Count == Page ? events[^1].Sequence : upTo);
        }
        return true;
    }

    /// <summary>
    /// The job type of the events' jobs, by tenant and id, from their status rows, where GET /events's jobType filter finds it
    /// (<see cref="JobQueries.EventOfJobType"/>); a job whose row is gone has none.
    /// </summary>
    private static async Task<Dictionary<(string TenantId, Guid JobId), string>> JobTypes(IQuerySession session, IReadOnlyList<IEvent> events, CancellationToken ct)
    {
        if (events.Count == 0)
            return [];
        string[] tenants = [.. events.Select(e => e.TenantId).Distinct()];
        Guid[] ids = [.. events.Select(e => e.StreamId).Distinct()];
        var jobs = await session.Query<JobStatusView>().Where(v => v.TenantIsOneOf(tenants) && v.Id.In(ids))
            .Select(v => new { v.TenantId, v.Id, v.State.Type }).ToListAsync(ct);
        return jobs.ToDictionary(j => (j.TenantId, j.Id), j => j.Type);
    }

    private static TailEvent From(IEvent e, string? jobType)
    {
        var audit = AuditEvent.From(e);
        return new TailEvent(audit.Seq, e.TenantId, jobType, e.IsArchived, audit.Type, audit.Timestamp, audit.Metadata, JsonSerializer.SerializeToUtf8Bytes(audit, AuditEvent.Json));
    }

    /// <summary>Adds what was read up to <paramref name="end"/>, lets the oldest go past the window's size, and wakes the tails.</summary>
    private void Append(IReadOnlyList<TailEvent> events, long end)
    {
        lock (_lock)
        {
            _events.AddRange(events);
            _bytes += events.Sum(e => (long)e.Json.Length);
            _end = end;
            var dropped = 0;
            for (; dropped < _events.Count && _bytes > options.Value.WindowBytes; dropped++)
            {
                _bytes -= _events[dropped].Json.Length;
                _start = _events[dropped].Seq;
            }
            _events.RemoveRange(0, dropped);
            Moved();
        }
    }

    /// <summary>Empties the window, which then starts at <paramref name="at"/>.</summary>
    private void Restart(long at)
    {
        lock (_lock)
        {
            _events.Clear();
            (_start, _end, _bytes) = (at, at, 0);
            Moved();
        }
    }

    private void Moved()
    {
        _moved.SetResult();
        _moved = NewMoved();
    }

    /// <summary>The index of the first event after <paramref name="seq"/>: a binary search, as the window is in order.</summary>
    private int FirstAfter(long seq)
    {
        var (low, high) = (0, _events.Count);
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (_events[middle].Seq <= seq)
                low = middle + 1;
            else
                high = middle;
        }
        return low;
    }

    private static TaskCompletionSource NewMoved() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Following(AuditTail tail) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref tail._tails);
    }
}
