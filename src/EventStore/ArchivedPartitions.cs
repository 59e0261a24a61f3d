using Marten;
using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// Whether archived streams get partitions of their own in this database. A new database's event tables are made
/// partitioned. A database whose event tables were made before, unpartitioned, keeps them: Marten's migration would
/// rebuild them at start-up with the events copied, but drops the events' sequence with the old table, so the next
/// start would number new events from 1 again (tried on 9.58). Such a database works as before; only reads that skip
/// archived events (the feed, a rebuild) pass over them instead of skipping a partition.
/// </summary>
public static class ArchivedPartitions
{
    /// <summary>Keeps the event tables as they are in <paramref name="dataSource"/>'s database; returns true when they stay unpartitioned.</summary>
    public static bool KeepExistingTables(StoreOptions options, NpgsqlDataSource dataSource)
    {
        using var command = dataSource.CreateCommand($"""
            SELECT c.relkind::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = '{EventStoreSetup.Schema}' AND c.relname = 'mt_events'
            """);
        var unpartitioned = command.ExecuteScalar() is "r";
        if (unpartitioned)
            options.Events.UseArchivedStreamPartitioning = false;
        return unpartitioned;
    }
}
