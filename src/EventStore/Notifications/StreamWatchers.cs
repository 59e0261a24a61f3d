namespace EventSourced.EventStore.Notifications;

/// <summary>
/// Lets readers wait for appends to particular streams (an SSE connection waits for its job),
/// all woken by the process's one listening connection.
/// </summary>
public sealed class StreamWatchers : INotificationSubscriber
{
    private readonly Dictionary<Guid, List<StreamWatch>> _watches = [];
    private readonly Lock _lock = new();

    public StreamWatch Watch(Guid streamId)
    {
        var watch = new StreamWatch(this, streamId);
        lock (_lock)
        {
            if (!_watches.TryGetValue(streamId, out var list))
                _watches[streamId] = list = [];
            list.Add(watch);
        }
        return watch;
    }

    public void Appended(StreamAppended appended)
    {
        lock (_lock)
        {
            if (_watches.TryGetValue(appended.StreamId, out var list))
            {
                foreach (var watch in list)
                    watch.Moved(appended.Version);
            }
        }
    }

    public void Resync()
    {
        lock (_lock)
        {
            foreach (var watch in _watches.Values.SelectMany(list => list))
                watch.Moved(long.MaxValue);
        }
    }

    internal void Remove(StreamWatch watch)
    {
        lock (_lock)
        {
            if (_watches.TryGetValue(watch.StreamId, out var list) && list.Remove(watch) && list.Count == 0)
                _watches.Remove(watch.StreamId);
        }
    }
}

/// <summary>One reader's interest in one stream. Create it before reading, so no append is missed in between.</summary>
public sealed class StreamWatch : IDisposable
{
    private readonly StreamWatchers _owner;

    internal StreamWatch(StreamWatchers owner, Guid streamId)
    {
        _owner = owner;
        StreamId = streamId;
    }

    public Guid StreamId { get; }
    internal AsyncSignal Signal { get; } = new();

    /// <summary>
    /// The highest version announced for the stream since the watch began; long.MaxValue after a
    /// reconnection, when announcements may have been missed.
    /// </summary>
    public long LatestVersion => Interlocked.Read(ref _latestVersion);

    private long _latestVersion;

    internal void Moved(long version)
    {
        var seen = Interlocked.Read(ref _latestVersion);
        while (version > seen)
        {
            var before = Interlocked.CompareExchange(ref _latestVersion, version, seen);
            if (before == seen)
                break;
            seen = before;
        }
        Signal.Set();
    }

    /// <summary>True when the stream may have new events, false when <paramref name="timeout"/> passed first.</summary>
    public Task<bool> WaitForAppend(TimeSpan timeout, CancellationToken ct) => Signal.Wait(timeout, ct);

    public void Dispose()
    {
        _owner.Remove(this);
        Signal.Dispose();
    }
}
