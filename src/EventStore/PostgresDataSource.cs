using Npgsql;

namespace EventSourced.EventStore;

public static class PostgresDataSource
{
    /// <summary>
    /// A data source with the store's defaults: statements used again and again (the append, the
    /// status lookup) are prepared on the server after a few uses, so they are planned once, not on
    /// every call. A setting given in the connection string wins.
    /// </summary>
    public static NpgsqlDataSourceBuilder Builder(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
        return builder;
    }

    public static NpgsqlDataSource Create(string connectionString) => Builder(connectionString).Build();
}
