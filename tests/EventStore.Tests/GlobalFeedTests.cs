using EventSourced.TestSupport;
using Npgsql;

namespace EventSourced.EventStore.Tests;

/// <summary>
/// Sequence numbers are taken before commit, so a transaction holding seq 101 can commit after
/// one holding seq 102. A feed reader must never skip 101 because it already saw 102.
/// </summary>
public sealed class GlobalFeedTests(StoreDatabase db) : IClassFixture<StoreDatabase>
{
    private PostgresEventStore Store => db.Store;

    [Fact]
    public async Task An_event_committed_behind_an_open_transaction_is_withheld_until_that_transaction_settles()
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var held = (await Store.AppendMany(connection, [NewThing("held")], default))[0].Result!.Events[0];

        var later = (await Store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("later"))).Events[0];
        Assert.True(held.Seq < later.Seq);

        Assert.Empty(await ReadMine(GlobalPosition.Start, held, later));
        Assert.True((await Store.ReadAll(GlobalPosition.Start, 1000)).HeldBack);

        await transaction.CommitAsync();
        var all = await Eventually.Get(() => ReadMine(GlobalPosition.Start, held, later), r => r.Count >= 2, "both events in the feed");
        Assert.Equal([held.Seq, later.Seq], all.Select(e => e.Seq));
    }

    [Fact]
    public async Task A_reader_that_saw_a_later_sequence_number_still_gets_an_earlier_one_that_commits_late()
    {
        // The first writer takes its transaction id first but its sequence number last.
        await using var first = await db.DataSource.OpenConnectionAsync();
        await using var firstTransaction = await first.BeginTransactionAsync();
        await using (var takeXid = new NpgsqlCommand("SELECT pg_current_xact_id()", first))
            await takeXid.ExecuteScalarAsync();

        await using var second = await db.DataSource.OpenConnectionAsync();
        await using var secondTransaction = await second.BeginTransactionAsync();
        var lowSeq = (await Store.AppendMany(second, [NewThing("low seq, commits late")], default))[0].Result!.Events[0];

        var highSeq = (await Store.AppendMany(first, [NewThing("high seq, commits first")], default))[0].Result!.Events[0];
        await firstTransaction.CommitAsync();
        Assert.True(lowSeq.Seq < highSeq.Seq);

        var seen = await Eventually.Get(() => ReadMine(GlobalPosition.Start, lowSeq, highSeq), r => r.Count >= 1, "the committed event");
        Assert.Equal([highSeq.Seq], seen.Select(e => e.Seq));

        await secondTransaction.CommitAsync();
        var rest = await Eventually.Get(() => ReadMine(seen[0].Position, lowSeq, highSeq), r => r.Count >= 1, "the late event");
        Assert.Equal([lowSeq.Seq], rest.Select(e => e.Seq));
    }

    [Fact]
    public async Task The_feed_pages_through_every_event_once_in_transaction_order()
    {
        var appended = new List<StoredEvent>();
        for (var i = 0; i < 7; i++)
            appended.AddRange((await Store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("a", "b", "c"))).Events);
        var mine = appended.Select(e => e.StreamId).ToHashSet();

        var read = new List<StoredEvent>();
        var position = GlobalPosition.Start;
        while (read.Count < appended.Count)
        {
            var page = (await Eventually.Get(() => Store.ReadAll(position, 4), p => p.Events.Count > 0, "the next page")).Events;
            Assert.True(page.Count <= 4);
            read.AddRange(page.Where(e => mine.Contains(e.StreamId)));
            position = page[^1].Position;
        }

        Assert.Equal(appended.Select(e => e.Seq), read.Select(e => e.Seq));
    }

    private static StreamAppend NewThing(string what) => new(Guid.NewGuid(), ExpectedVersion.NoStream, StoreDatabase.Things(what), StreamType: "thing");

    /// <summary>The feed after a position, narrowed to this test's streams: earlier tests' events may settle late too.</summary>
    private async Task<List<StoredEvent>> ReadMine(GlobalPosition after, params StoredEvent[] mine)
    {
        var streams = mine.Select(e => e.StreamId).ToHashSet();
        var events = new List<StoredEvent>();
        while (true)
        {
            var page = (await Store.ReadAll(after, 1000)).Events;
            if (page.Count == 0)
                return events;
            events.AddRange(page.Where(e => streams.Contains(e.StreamId)));
            after = page[^1].Position;
        }
    }
}
