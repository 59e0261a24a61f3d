using System.Runtime.CompilerServices;

namespace EventSourced.EventStore;

/// <summary>Follows the global feed: catches up from a position, then goes live.</summary>
public sealed class FeedSubscriptions(PostgresEventStore store, EventNotifications notifications)
{
    private static readonly TimeSpan HeldBackRetry = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Every event after <paramref name="after"/>, once and in feed order. Catch-up and live are
    /// one loop (read after the last position, then wait for a notification), so events that land
    /// during the catch-up are neither missed nor repeated. Events held back by an older running
    /// transaction are looked for again soon; the poll interval covers a lost notification.
    /// </summary>
    public async IAsyncEnumerable<StoredEvent> Subscribe(
        GlobalPosition after, TimeSpan pollInterval, int batchSize = 500, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var wakeup = new WakeOnAnyAppend();
        using var subscription = notifications.Subscribe(wakeup);
        while (true)
        {
            var page = await store.ReadAll(after, batchSize, ct);
            foreach (var e in page.Events)
            {
                after = e.Position;
                yield return e;
            }
            if (page.Events.Count < batchSize)
                await wakeup.Signal.Wait(page.HeldBack ? HeldBackRetry : pollInterval, ct);
        }
    }
}
