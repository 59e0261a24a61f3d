using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventSourced.EventStore.Notifications;

/// <summary>
/// The one LISTEN connection of this process. It fans each notification out to in-process
/// subscribers, reconnects when the connection drops, and then tells every subscriber to
/// re-read (<see cref="INotificationSubscriber.Resync"/>), since notifications sent while it
/// was away are gone.
/// </summary>
public sealed class EventNotifications(NpgsqlDataSource dataSource, ILogger<EventNotifications> logger) : IAsyncDisposable
{
    // An idle connection is checked this often, so a dead one is noticed without waiting for traffic.
    private static readonly TimeSpan IdleCheck = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _subscribersLock = new();
    private INotificationSubscriber[] _subscribers = [];
    private Task? _listening;

    /// <summary>True while the LISTEN connection is up.</summary>
    public bool IsListening { get; private set; }

    public void Start() => _listening ??= Task.Run(() => Listen(_stopping.Token));

    public IDisposable Subscribe(INotificationSubscriber subscriber)
    {
        lock (_subscribersLock)
            _subscribers = [.. _subscribers, subscriber];
        return new Unsubscriber(this, subscriber);
    }

    private async Task Listen(CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                connection.Notification += (_, e) => Dispatch(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {AppendNotifier.Channel}", connection))
                    await listen.ExecuteNonQueryAsync(ct);
                IsListening = true;
                delay = TimeSpan.FromMilliseconds(100);
                Resync();

                while (true)
                {
                    if (!await connection.WaitAsync(IdleCheck, ct))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        await ping.ExecuteNonQueryAsync(ct);
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                IsListening = false;
                logger.LogWarning("The notification connection failed ({Error}); reconnecting in {Delay} ms.", e.Message, delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxReconnectDelay.Ticks));
            }
        }
        IsListening = false;
    }

    private void Dispatch(string payload)
    {
        var subscribers = _subscribers;
        foreach (var appended in StreamAppended.Parse(payload))
        {
            foreach (var subscriber in subscribers)
                subscriber.Appended(appended);
        }
    }

    private void Resync()
    {
        foreach (var subscriber in _subscribers)
            subscriber.Resync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_listening is not null)
            await _listening;
        _stopping.Dispose();
    }

    private sealed class Unsubscriber(EventNotifications notifications, INotificationSubscriber subscriber) : IDisposable
    {
        public void Dispose()
        {
            lock (notifications._subscribersLock)
                notifications._subscribers = [.. notifications._subscribers.Where(s => s != subscriber)];
        }
    }
}

/// <summary>Called on the listening connection's thread: keep it short (set a signal).</summary>
public interface INotificationSubscriber
{
    void Appended(StreamAppended appended);

    /// <summary>Notifications may have been missed (the connection was re-established): re-read.</summary>
    void Resync();
}
