using System.Data.Common;
using Npgsql;

namespace EventSourced.EventStore;

public static class PostgresDataSource
{
    /// <summary>
    /// A data source with the store's defaults, each measured with ./bench on 2 cores; a setting
    /// given in the connection string wins.
    /// - Statements used again and again (the append, the status lookup) are prepared on the server
    ///   after a few uses, so they are planned once, not on every call.
    /// - A connection going back to the pool is not reset: we never change session state, and the
    ///   reset cost the database five statements per use.
    /// - The pool is sized for the machine (8 connections a core, at least 16, at most 100): with
    ///   Npgsql's 100, 64 busy connections on 2 cores answered status reads at half the rate.
    /// </summary>
    public static NpgsqlDataSourceBuilder Builder(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
            .Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant()).ToHashSet();
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        var settings = builder.ConnectionStringBuilder;
        if (!given.Contains("maxautoprepare"))
            settings.MaxAutoPrepare = 64;
        if (!given.Contains("noresetonclose"))
            settings.NoResetOnClose = true;
        if (!given.Overlaps(["maximumpoolsize", "maxpoolsize"]))
            settings.MaxPoolSize = Math.Clamp(8 * Environment.ProcessorCount, 16, 100);
        return builder;
    }

    public static NpgsqlDataSource Create(string connectionString) => Builder(connectionString).Build();
}
