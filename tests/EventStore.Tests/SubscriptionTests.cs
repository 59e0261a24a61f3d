using System.Collections.Concurrent;
using EventSourced.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSourced.EventStore.Tests;

public sealed class SubscriptionTests(StoreDatabase db) : IClassFixture<StoreDatabase>, IAsyncLifetime
{
    private readonly EventNotifications _notifications = new(db.DataSource, NullLogger<EventNotifications>.Instance);
    private PostgresEventStore Store => db.Store;

    public Task InitializeAsync()
    {
        _notifications.Start();
        return Eventually.Get(() => Task.FromResult(_notifications.IsListening), listening => listening, "the listening connection");
    }

    public async Task DisposeAsync() => await _notifications.DisposeAsync();

    [Fact]
    public async Task A_subscription_catches_up_then_goes_live_delivering_every_event_once_in_order_during_a_burst()
    {
        var expected = new ConcurrentBag<StoredEvent>();
        for (var i = 0; i < 10; i++)
        {
            foreach (var e in (await Store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("old", "older"))).Events)
                expected.Add(e);
        }
        const int writers = 8, appendsPerWriter = 30;
        var total = expected.Count + writers * Enumerable.Range(0, appendsPerWriter).Sum(n => n % 2 + 1);
        var streams = new ConcurrentDictionary<Guid, bool>(expected.Select(e => e.StreamId).Distinct().Select(id => KeyValuePair.Create(id, true)));

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var received = new List<StoredEvent>();
        var subscription = new FeedSubscriptions(Store, _notifications);
        var reading = Task.Run(async () =>
        {
            // A small batch size makes the catch-up take several reads while the burst lands.
            await foreach (var e in subscription.Subscribe(GlobalPosition.Start, TimeSpan.FromSeconds(1), batchSize: 7, ct: timeout.Token))
            {
                if (!streams.ContainsKey(e.StreamId))
                    continue;
                received.Add(e);
                if (received.Count == total)
                    return;
            }
        });

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var id = Guid.NewGuid();
            streams[id] = true;
            long version = 0;
            for (var n = 0; n < appendsPerWriter; n++)
            {
                var things = StoreDatabase.Things([.. Enumerable.Range(0, n % 2 + 1).Select(k => $"{w}.{n}.{k}")]);
                var result = version == 0 ? await Store.StartStream(id, "thing", things) : await Store.Append(id, version, things);
                version = result.Version;
                foreach (var e in result.Events)
                    expected.Add(e);
            }
        })));
        await reading;

        Assert.Equal(total, received.Count);
        Assert.Equal(expected.Select(e => e.Seq).Order(), received.Select(e => e.Seq).Order());
        Assert.Equal(received.Select(e => e.Position).Order(), received.Select(e => e.Position));
        foreach (var stream in received.GroupBy(e => e.StreamId))
            Assert.Equal(Enumerable.Range(1, stream.Count()).Select(v => (long)v), stream.Select(e => e.Version));
    }

    [Fact]
    public async Task A_subscription_gets_what_was_appended_while_the_listening_connection_was_down()
    {
        var stream = Guid.NewGuid();
        await Store.StartStream(stream, "thing", StoreDatabase.Things("before"));

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        // Polling is effectively off: only a notification, or the re-read after reconnecting, wakes it.
        var events = new FeedSubscriptions(Store, _notifications)
            .Subscribe(GlobalPosition.Start, TimeSpan.FromHours(1), ct: timeout.Token)
            .Where(e => e.StreamId == stream)
            .GetAsyncEnumerator(timeout.Token);
        Assert.True(await events.MoveNextAsync());

        await Store.Append(stream, 1, StoreDatabase.Things("live"));
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("live", ((ThingHappened)events.Current.Data).What);

        var killed = await db.Scalar<long>("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')
            """);
        Assert.Equal(1, killed);
        await Store.Append(stream, 2, StoreDatabase.Things("while down"));

        Assert.True(await events.MoveNextAsync());
        Assert.Equal("while down", ((ThingHappened)events.Current.Data).What);
        await events.DisposeAsync();
    }

    [Fact]
    public async Task Without_any_notification_a_subscription_still_delivers_by_polling()
    {
        await using var silent = new EventNotifications(db.DataSource, NullLogger<EventNotifications>.Instance); // never started
        var stream = Guid.NewGuid();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var events = new FeedSubscriptions(Store, silent)
            .Subscribe(GlobalPosition.Start, TimeSpan.FromMilliseconds(100), ct: timeout.Token)
            .Where(e => e.StreamId == stream)
            .GetAsyncEnumerator(timeout.Token);

        var reading = events.MoveNextAsync().AsTask();
        await Store.StartStream(stream, "thing", StoreDatabase.Things("unannounced"));

        Assert.True(await reading);
        Assert.Equal("unannounced", ((ThingHappened)events.Current.Data).What);
        await events.DisposeAsync();
    }
}
