namespace EventSourced.EventStore.Tests;

public sealed class SchemaTests(StoreDatabase db) : IClassFixture<StoreDatabase>
{
    [Fact]
    public async Task Applying_the_schema_again_changes_nothing()
    {
        var id = Guid.NewGuid();
        await db.Store.StartStream(id, "thing", StoreDatabase.Things("kept"));
        var before = await Describe();

        await db.Migrate(SchemaModule.EventStore);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => db.Migrate(SchemaModule.EventStore)));

        Assert.Equal(before, await Describe());
        Assert.Single(await db.Store.ReadStream(id));
    }

    private Task<string> Describe() => db.Scalar<string>("""
        SELECT (SELECT string_agg(table_name || '.' || column_name || ' ' || data_type, ', ' ORDER BY table_name, column_name)
                FROM information_schema.columns WHERE table_schema = 'public')
            || ' | ' || (SELECT string_agg(indexdef, ', ' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public')
            || ' | ' || (SELECT string_agg(module || version || name, ', ' ORDER BY module, version) FROM schema_migrations)
        """);
}
