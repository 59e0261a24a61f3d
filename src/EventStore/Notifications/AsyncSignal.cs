namespace EventSourced.EventStore.Notifications;

/// <summary>
/// A wake-up that remembers it was set: a Set before the Wait is not lost, and many Sets
/// before one Wait wake it once.
/// </summary>
public sealed class AsyncSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Set()
    {
        if (_semaphore.CurrentCount > 0)
            return;
        try
        {
            _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another Set won the race: the signal is set either way.
        }
    }

    /// <summary>True when set, false when <paramref name="timeout"/> passed first.</summary>
    public Task<bool> Wait(TimeSpan timeout, CancellationToken ct) => _semaphore.WaitAsync(timeout, ct);

    public void Dispose() => _semaphore.Dispose();
}
