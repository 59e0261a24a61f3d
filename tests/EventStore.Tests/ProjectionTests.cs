using Npgsql;

namespace EventSourced.EventStore.Tests;

/// <summary>Counts each stream's things; refuses a thing called "boom" by throwing.</summary>
internal sealed class ThingCountProjection : IProjection
{
    public string Name => "thing_counts";

    public async Task Apply(NpgsqlConnection connection, IReadOnlyList<StoredEvent> events, CancellationToken ct)
    {
        foreach (var e in events)
        {
            if (e.Data is ThingHappened { What: "boom" })
                throw new InvalidOperationException("The projection refuses a boom.");
            await using var command = new NpgsqlCommand("""
                INSERT INTO thing_counts (stream_id, things, last_what, version) VALUES ($1, 1, $2, $3)
                ON CONFLICT (stream_id) DO UPDATE SET things = thing_counts.things + 1, last_what = $2, version = $3
                WHERE thing_counts.version < $3
                """, connection)
            {
                Parameters = { new() { Value = e.StreamId }, new() { Value = (e.Data as ThingHappened)?.What ?? "" }, new() { Value = e.Version } },
            };
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    public async Task Clear(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("DELETE FROM thing_counts", connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}

public sealed class ProjectionTests(StoreDatabase db) : IClassFixture<StoreDatabase>, IAsyncLifetime
{
    private readonly ThingCountProjection _projection = new();
    private PostgresEventStore _store = null!;

    public async Task InitializeAsync()
    {
        await db.Execute("CREATE TABLE IF NOT EXISTS thing_counts (stream_id uuid PRIMARY KEY, things int NOT NULL, last_what text NOT NULL, version bigint NOT NULL)");
        _store = db.CreateStore(_projection);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task An_inline_projection_is_current_as_soon_as_the_append_returns()
    {
        var id = Guid.NewGuid();
        await _store.StartStream(id, "thing", StoreDatabase.Things("a", "b"));
        await _store.Append(id, 2, StoreDatabase.Things("c"));

        Assert.Equal("3 c 3", await Row(id));
    }

    [Fact]
    public async Task A_projection_that_throws_rolls_the_append_back()
    {
        var id = Guid.NewGuid();
        await _store.StartStream(id, "thing", StoreDatabase.Things("a"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.Append(id, 1, StoreDatabase.Things("b", "boom")));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("boom")));

        Assert.Equal(1, await _store.StreamVersion(id));
        Assert.Single(await _store.ReadStream(id));
        Assert.Equal("1 a 1", await Row(id));
        Assert.Equal(0L, await db.Scalar<long>("SELECT count(*) FROM events WHERE data->>'what' = 'boom'"));
    }

    [Fact]
    public async Task Rebuilding_a_projection_replays_the_events_into_the_rows_it_had_inline()
    {
        for (var i = 0; i < 20; i++)
        {
            var id = Guid.NewGuid();
            await _store.StartStream(id, "thing", StoreDatabase.Things([.. Enumerable.Range(0, i % 4 + 1).Select(n => $"t{n}")]));
        }
        var inline = await AllRows();
        await db.Execute("UPDATE thing_counts SET things = 0, last_what = 'corrupted'");

        var replayed = await _store.Rebuild(_projection, batchSize: 7);

        Assert.Equal(await db.Scalar<long>("SELECT count(*) FROM events"), replayed);
        Assert.Equal(inline, await AllRows());
    }

    private Task<string> Row(Guid id) => db.Scalar<string>("SELECT things || ' ' || last_what || ' ' || version FROM thing_counts WHERE stream_id = $1", id);

    private Task<string> AllRows() =>
        db.Scalar<string>("SELECT string_agg(stream_id || ':' || things || ':' || last_what || ':' || version, ',' ORDER BY stream_id) FROM thing_counts");
}
