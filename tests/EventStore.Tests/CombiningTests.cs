using Npgsql;

namespace EventSourced.EventStore.Tests;

/// <summary>Holds a write open at a "gate" event until released, and refuses a "boom", inside the appending transaction.</summary>
internal sealed class GateProjection : IProjection
{
    public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name => "gate";

    public async Task Apply(NpgsqlConnection connection, IReadOnlyList<StoredEvent> events, CancellationToken ct)
    {
        if (events.Any(e => e.Data is ThingHappened { What: "boom" }))
            throw new InvalidOperationException("The projection refuses a boom.");
        if (events.Any(e => e.Data is ThingHappened { What: "gate" }))
        {
            Reached.TrySetResult();
            await Open.Task;
        }
    }

    public Task Clear(NpgsqlConnection connection, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>Appends that arrive while a write is under way are written together, in one transaction.</summary>
public sealed class CombiningTests(StoreDatabase db) : IClassFixture<StoreDatabase>
{
    [Fact]
    public async Task Appends_queued_behind_a_write_are_written_together_and_each_caller_gets_its_own_outcome()
    {
        var gate = new GateProjection();
        var store = db.CreateStore(gate);
        var existing = Guid.NewGuid();
        await store.StartStream(existing, "thing", StoreDatabase.Things("one"));

        var first = store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("gate"));
        await gate.Reached.Task;
        var ids = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToList();
        var queued = ids.Select(id => store.StartStream(id, "thing", StoreDatabase.Things("queued"))).ToList();
        var stale = store.Append(existing, 5, StoreDatabase.Things("stale"));
        var duplicate = store.StartStream(existing, "thing", StoreDatabase.Things("again"));
        gate.Open.SetResult();
        await first;
        await Task.WhenAll(queued);

        await Assert.ThrowsAsync<WrongExpectedVersionException>(() => stale);
        await Assert.ThrowsAsync<StreamAlreadyExistsException>(() => duplicate);
        Assert.Equal(1L, await db.Scalar<long>("SELECT count(DISTINCT transaction_id) FROM events WHERE stream_id = ANY($1)", ids));
        Assert.All(queued, q => Assert.Equal(1, q.Result.Version));
    }

    [Fact]
    public async Task An_append_that_fails_the_shared_write_fails_alone()
    {
        var gate = new GateProjection();
        var store = db.CreateStore(gate);

        var first = store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("gate"));
        await gate.Reached.Task;
        var ids = Enumerable.Range(0, 6).Select(_ => Guid.NewGuid()).ToList();
        var fine = ids.Select(id => store.StartStream(id, "thing", StoreDatabase.Things("fine"))).ToList();
        var boom = Guid.NewGuid();
        var failing = store.StartStream(boom, "thing", StoreDatabase.Things("boom"));
        gate.Open.SetResult();
        await first;

        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        await Task.WhenAll(fine);
        Assert.Equal(6L, await db.Scalar<long>("SELECT count(*) FROM events WHERE stream_id = ANY($1)", ids));
        Assert.Null(await store.StreamVersion(boom));
    }

    [Fact]
    public async Task Two_appends_to_one_stream_queued_together_are_written_one_after_the_other_in_order()
    {
        var gate = new GateProjection();
        var store = db.CreateStore(gate);
        var id = Guid.NewGuid();
        await store.StartStream(id, "thing", StoreDatabase.Things("one"));

        var first = store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("gate"));
        await gate.Reached.Task;
        var second = store.Append(id, 1, StoreDatabase.Things("two"));
        var third = store.Append(id, 2, StoreDatabase.Things("three"));
        gate.Open.SetResult();
        await first;

        Assert.Equal(2, (await second).Version);
        Assert.Equal(3, (await third).Version);
        Assert.Equal(["one", "two", "three"], (await store.ReadStream(id)).Select(e => ((ThingHappened)e.Data).What));
    }

    [Fact]
    public async Task Concurrent_reads_of_many_streams_each_get_exactly_their_own_events()
    {
        var streams = new List<(Guid Id, int Length)>();
        for (var i = 0; i < 30; i++)
        {
            var id = Guid.NewGuid();
            await db.Store.StartStream(id, "thing", StoreDatabase.Things([.. Enumerable.Range(1, i % 7 + 1).Select(n => $"{i}.{n}")]));
            streams.Add((id, i % 7 + 1));
        }

        var reads = Enumerable.Range(0, 300).Select(async n =>
        {
            var (id, length) = streams[n % streams.Count];
            var from = n % length + 1;
            var events = await db.Store.ReadStream(id, from);
            return (id, from, length, events);
        });

        foreach (var (id, from, length, events) in await Task.WhenAll(reads))
        {
            Assert.All(events, e => Assert.Equal(id, e.StreamId));
            Assert.Equal(Enumerable.Range(from, length - from + 1).Select(v => (long)v), events.Select(e => e.Version));
        }
        Assert.Empty(await db.Store.ReadStream(Guid.NewGuid()));
    }
}
