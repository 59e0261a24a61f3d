using EventSourced.TestSupport;

namespace EventSourced.EventStore.Tests;

public sealed record ThingHappened(string What);
public sealed record ThingCounted(int Count);

/// <summary>A test database with the event store's schema and a store over two test event types.</summary>
public sealed class StoreDatabase : TestDatabase
{
    public static EventTypes Types { get; } = new EventTypes()
        .Register("thing.happened", typeof(ThingHappened))
        .Register("thing.counted", typeof(ThingCounted));

    public PostgresEventStore Store { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Migrate(SchemaModule.EventStore);
        Store = CreateStore();
    }

    public PostgresEventStore CreateStore(params IProjection[] projections) => new(DataSource, Types, projections);

    public static object[] Things(params string[] what) => [.. what.Select(w => new ThingHappened(w))];
}
