using EventSourced.EventStore.Notifications;
using EventSourced.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSourced.EventStore.Tests;

/// <summary>Appends by any process reach the watchers of every process, through the one listening connection each holds.</summary>
public sealed class NotificationTests(StoreDatabase db) : IClassFixture<StoreDatabase>, IAsyncLifetime
{
    private readonly EventNotifications _notifications = new(db.DataSource, NullLogger<EventNotifications>.Instance);
    private readonly StreamWatchers _watchers = new();

    public Task InitializeAsync()
    {
        _notifications.Subscribe(_watchers);
        _notifications.Start();
        return Eventually.Get(() => Task.FromResult(_notifications.IsListening), listening => listening, "the listening connection");
    }

    public async Task DisposeAsync() => await _notifications.DisposeAsync();

    [Fact]
    public async Task An_append_by_another_process_wakes_the_watchers_of_its_stream_with_its_new_version()
    {
        using var otherProcess = db.CreateStore();
        var commit = new GroupCommit(otherProcess);
        var id = Guid.NewGuid();
        using var watch = _watchers.Watch(id);
        using var elsewhere = _watchers.Watch(Guid.NewGuid());

        await commit.Append(StoreDatabase.Start(id, "one"));
        await commit.Append(StoreDatabase.Append(id, 1, "two"));

        await Eventually.Get(() => Task.FromResult(watch.LatestVersion), version => version == 2, "the announcement of version 2");
        Assert.Equal(0, elsewhere.LatestVersion);
    }

    [Fact]
    public async Task Any_session_of_the_store_announces_its_appends_not_only_group_commits()
    {
        var id = Guid.NewGuid();
        using var watch = _watchers.Watch(id);

        await using (var session = db.Store.LightweightSession(Tenants.Default))
        {
            session.Events.StartStream<Thing>(id, new ThingHappened("one"), new ThingHappened("two"));
            await session.SaveChangesAsync();
        }

        await Eventually.Get(() => Task.FromResult(watch.LatestVersion), version => version == 2, "the announcement of version 2");
    }

    [Fact]
    public async Task A_refused_append_announces_nothing_while_those_written_with_it_are_announced()
    {
        var commit = new GroupCommit(db.Store);
        var taken = Guid.NewGuid();
        await commit.Append(StoreDatabase.Start(taken, "first"));
        using var takenWatch = _watchers.Watch(taken);
        var fresh = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToArray();
        var freshWatches = fresh.Select(_watchers.Watch).ToArray();

        // The first fresh append is written at once; the refused one goes with the other nine in the next write.
        var written = fresh.Select(id => commit.Append(StoreDatabase.Start(id, "new"))).ToList();
        await Assert.ThrowsAnyAsync<Exception>(() => commit.Append(StoreDatabase.Start(taken, "again")));
        await Task.WhenAll(written);
        // Notifications arrive in commit order: once a later one is in, an earlier one would be too.
        var later = Guid.NewGuid();
        using var laterWatch = _watchers.Watch(later);
        await commit.Append(StoreDatabase.Start(later, "later"));
        await Eventually.Get(() => Task.FromResult(laterWatch.LatestVersion), version => version == 1, "the later announcement");

        Assert.All(freshWatches, w => Assert.Equal(1, w.LatestVersion));
        Assert.Equal(0, takenWatch.LatestVersion);
        foreach (var w in freshWatches)
            w.Dispose();
    }

    [Fact]
    public async Task When_the_listening_connection_drops_every_watcher_is_told_to_read_again()
    {
        using var watch = _watchers.Watch(Guid.NewGuid());

        var killed = await db.Scalar<long>("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')
            """);

        Assert.Equal(1, killed);
        Assert.True(await watch.WaitForAppend(Patience.Bound, CancellationToken.None));
        Assert.Equal(long.MaxValue, watch.LatestVersion);
        await Eventually.Get(() => Task.FromResult(_notifications.IsListening), listening => listening, "the connection to be back");
    }
}
