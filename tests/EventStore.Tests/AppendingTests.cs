namespace EventSourced.EventStore.Tests;

public sealed class AppendingTests(StoreDatabase db) : IClassFixture<StoreDatabase>
{
    private PostgresEventStore Store => db.Store;

    [Fact]
    public async Task Starting_a_stream_numbers_its_events_from_version_one_with_growing_sequence_numbers()
    {
        var id = Guid.NewGuid();
        var result = await Store.StartStream(id, "thing", StoreDatabase.Things("a", "b", "c"));

        Assert.Equal(3, result.Version);
        Assert.Equal([1L, 2L, 3L], result.Events.Select(e => e.Version));
        Assert.True(result.Events[0].Seq < result.Events[1].Seq && result.Events[1].Seq < result.Events[2].Seq);

        var read = await Store.ReadStream(id);
        Assert.Equal(["a", "b", "c"], read.Select(e => ((ThingHappened)e.Data).What));
        Assert.Equal(result.Events.Select(e => e.Seq), read.Select(e => e.Seq));
        Assert.All(read, e => Assert.Equal("thing.happened", e.TypeName));
    }

    [Fact]
    public async Task Starting_a_stream_twice_is_refused_and_the_second_start_appends_nothing()
    {
        var id = Guid.NewGuid();
        await Store.StartStream(id, "thing", StoreDatabase.Things("first"));

        var refused = await Assert.ThrowsAsync<StreamAlreadyExistsException>(() => Store.StartStream(id, "thing", StoreDatabase.Things("second")));

        Assert.Equal(id, refused.StreamId);
        Assert.Equal(["first"], (await Store.ReadStream(id)).Select(e => ((ThingHappened)e.Data).What));
    }

    [Fact]
    public async Task Of_concurrent_appenders_at_the_same_expected_version_exactly_one_wins()
    {
        var id = Guid.NewGuid();
        await Store.StartStream(id, "thing", StoreDatabase.Things("start"));

        var attempts = Enumerable.Range(0, 16).Select(async i =>
        {
            try
            {
                await Store.Append(id, 1, StoreDatabase.Things($"writer {i}"));
                return true;
            }
            catch (WrongExpectedVersionException e)
            {
                Assert.Equal(2, e.ActualVersion);
                return false;
            }
        });
        var won = await Task.WhenAll(attempts);

        Assert.Single(won, w => w);
        Assert.Equal(2, await Store.StreamVersion(id));
        Assert.Equal(2, (await Store.ReadStream(id)).Count);
    }

    [Fact]
    public async Task Of_concurrent_starts_of_one_stream_exactly_one_wins()
    {
        var id = Guid.NewGuid();
        var attempts = Enumerable.Range(0, 16).Select(async i =>
        {
            try
            {
                await Store.StartStream(id, "thing", StoreDatabase.Things($"starter {i}"));
                return true;
            }
            catch (StreamAlreadyExistsException)
            {
                return false;
            }
        });
        var won = await Task.WhenAll(attempts);

        Assert.Single(won, w => w);
        Assert.Single(await Store.ReadStream(id));
    }

    [Fact]
    public async Task Appending_to_a_stream_that_does_not_exist_is_refused()
    {
        var refused = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => Store.Append(Guid.NewGuid(), 3, StoreDatabase.Things("x")));
        Assert.Null(refused.ActualVersion);
        Assert.Contains("does not exist", refused.Message);
    }

    [Fact]
    public async Task One_refused_append_in_a_batch_does_not_fail_its_neighbours()
    {
        var existing = Guid.NewGuid();
        await Store.StartStream(existing, "thing", StoreDatabase.Things("one"));
        var fresh = Guid.NewGuid();
        var stale = Guid.NewGuid();
        await Store.StartStream(stale, "thing", StoreDatabase.Things("one", "two"));

        var outcomes = await Store.AppendMany(
        [
            new StreamAppend(existing, 1, StoreDatabase.Things("two")),
            new StreamAppend(stale, 1, StoreDatabase.Things("three")),
            new StreamAppend(fresh, ExpectedVersion.NoStream, StoreDatabase.Things("one"), StreamType: "thing"),
            new StreamAppend(Guid.NewGuid(), 5, StoreDatabase.Things("nowhere")),
        ]);

        Assert.Equal(2, outcomes[0].Result!.Version);
        Assert.IsType<WrongExpectedVersionException>(outcomes[1].Error);
        Assert.Equal(1, outcomes[2].Result!.Version);
        Assert.IsType<WrongExpectedVersionException>(outcomes[3].Error);
        Assert.Equal(2, await Store.StreamVersion(stale));
        Assert.Equal(2, (await Store.ReadStream(stale)).Count);
    }

    [Fact]
    public async Task Sequence_numbers_grow_across_streams_in_the_order_of_the_appends()
    {
        var seqs = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            var result = await Store.StartStream(Guid.NewGuid(), "thing", StoreDatabase.Things("x", "y"));
            seqs.AddRange(result.Events.Select(e => e.Seq));
        }
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
    }

    [Fact]
    public async Task Within_one_stream_sequence_numbers_grow_with_version_under_concurrent_appends()
    {
        var id = Guid.NewGuid();
        await Store.StartStream(id, "thing", StoreDatabase.Things("start"));

        // Writers retry on conflict, as a decider loop does; every append lands exactly once.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async writer =>
        {
            for (var n = 0; n < 10; n++)
            {
                while (true)
                {
                    var version = (await Store.StreamVersion(id))!.Value;
                    try
                    {
                        await Store.Append(id, version, StoreDatabase.Things($"{writer}.{n}"));
                        break;
                    }
                    catch (WrongExpectedVersionException)
                    {
                    }
                }
            }
        }));

        var events = await Store.ReadStream(id);
        Assert.Equal(81, events.Count);
        Assert.Equal(Enumerable.Range(1, 81).Select(v => (long)v), events.Select(e => e.Version));
        Assert.Equal(events.Select(e => e.Seq).Order(), events.Select(e => e.Seq));
    }

    [Fact]
    public async Task Metadata_is_stored_with_every_event_of_the_append()
    {
        var id = Guid.NewGuid();
        var metadata = new EventMetadata(CorrelationId: "order-42", CausationId: "cmd-7", Actor: "alice");
        await Store.StartStream(id, "thing", StoreDatabase.Things("a", "b"), metadata, tenantId: "acme");

        var events = await Store.ReadStream(id);

        Assert.All(events, e => Assert.Equal(metadata, e.Metadata));
        Assert.All(events, e => Assert.Equal("acme", e.TenantId));
    }

    [Fact]
    public async Task An_event_whose_type_name_is_not_registered_is_refused_on_append_and_named_on_read()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.StartStream(Guid.NewGuid(), "thing", [new { Anonymous = true }]));

        var id = Guid.NewGuid();
        await Store.StartStream(id, "thing", StoreDatabase.Things("a"));
        await db.Execute("UPDATE events SET type = 'thing.vanished' WHERE stream_id = $1", id);

        var unknown = await Assert.ThrowsAsync<UnknownEventTypeException>(() => Store.ReadStream(id));
        Assert.Contains("'thing.vanished'", unknown.Message);
    }

    [Fact]
    public async Task Events_are_stored_under_their_stable_type_name_not_a_CLR_name()
    {
        var id = Guid.NewGuid();
        await Store.StartStream(id, "thing", [new ThingCounted(7)]);

        Assert.Equal("thing.counted", await db.Scalar<string>("SELECT type FROM events WHERE stream_id = $1", id));
        Assert.Equal(7, await db.Scalar<int>("SELECT (data->>'count')::int FROM events WHERE stream_id = $1", id));
    }

    [Fact]
    public async Task An_auditor_reads_a_stream_as_it_was_at_a_version_or_a_moment()
    {
        var id = Guid.NewGuid();
        await Store.StartStream(id, "thing", StoreDatabase.Things("one", "two"));
        var between = await db.Scalar<DateTime>("SELECT clock_timestamp()");
        await Store.Append(id, 2, StoreDatabase.Things("three"));

        var atVersion = await Store.ReadStreamAsOf(id, 2);
        var atMoment = await Store.ReadStreamAsOf(id, new DateTimeOffset(between));
        var fromVersion = await Store.ReadStream(id, fromVersion: 2);

        Assert.Equal(["one", "two"], atVersion.Select(e => ((ThingHappened)e.Data).What));
        Assert.Equal(["one", "two"], atMoment.Select(e => ((ThingHappened)e.Data).What));
        Assert.Equal(["two", "three"], fromVersion.Select(e => ((ThingHappened)e.Data).What));
    }

    [Fact]
    public async Task An_append_left_uncommitted_leaves_nothing_behind()
    {
        var id = Guid.NewGuid();
        await using (var connection = await db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await Store.AppendMany(connection, [new StreamAppend(id, 0, StoreDatabase.Things("a", "b"), StreamType: "thing")], default);
            // Disposed without commit: as if the process died mid-append.
        }

        Assert.Null(await Store.StreamVersion(id));
        Assert.Equal(0L, await db.Scalar<long>("SELECT count(*) FROM events WHERE stream_id = $1", id));
    }

    [Fact]
    public async Task Bad_arguments_are_refused_before_anything_is_written()
    {
        var id = Guid.NewGuid();
        await Assert.ThrowsAsync<ArgumentException>(() => Store.StartStream(id, "thing", []));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.StartStream(id, "", StoreDatabase.Things("a")));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.AppendMany(
        [
            new StreamAppend(id, 0, StoreDatabase.Things("a"), StreamType: "thing"),
            new StreamAppend(id, 0, StoreDatabase.Things("b"), StreamType: "thing"),
        ]));
        Assert.Null(await Store.StreamVersion(id));
    }
}
