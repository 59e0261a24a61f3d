using EventSourced.TestSupport;
using Marten;

namespace EventSourced.EventStore.Tests;

public sealed record ThingHappened(string What);

/// <summary>The stream type of the test streams.</summary>
public sealed class Thing;

/// <summary>A test database with a Marten store configured as the service configures it, over one test event type.</summary>
public sealed class StoreDatabase : TestDatabase
{
    public DocumentStore Store { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Store = CreateStore();
        await Store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    public override async Task DisposeAsync()
    {
        Store.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>Another store on the same database: what another process would have.</summary>
    public DocumentStore CreateStore(Action<StoreOptions>? configure = null) => DocumentStore.For(options =>
    {
        options.Connection(ConnectionString);
        EventStoreSetup.Configure(options, new Dictionary<string, Type> { ["thing.happened"] = typeof(ThingHappened) });
        configure?.Invoke(options);
    });

    public static StreamAppend Start(Guid id, string what, string tenant = Tenants.Default, EventMetadata? metadata = null) =>
        new(id, tenant, 0, [new ThingHappened(what)], metadata ?? EventMetadata.None, typeof(Thing));

    public static StreamAppend Append(Guid id, long expectedVersion, string what, string tenant = Tenants.Default) =>
        new(id, tenant, expectedVersion, [new ThingHappened(what)], EventMetadata.None, typeof(Thing));
}
