namespace EventSourced.EventStore.Notifications;

/// <summary>A signal set by every append, and by a resync: for a loop that looks for work after anything changes.</summary>
public sealed class WakeOnAnyAppend : INotificationSubscriber
{
    public AsyncSignal Signal { get; } = new();

    public void Appended(StreamAppended appended) => Signal.Set();

    public void Resync() => Signal.Set();
}
