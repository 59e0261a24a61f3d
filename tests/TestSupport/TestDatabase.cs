using EventSourced.EventStore;
using Npgsql;
using Xunit;

namespace EventSourced.TestSupport;

/// <summary>
/// A fresh database for one test class on the server ./test starts (DATABASE_URL), dropped when
/// the class is done, so test classes run in parallel without seeing each other's rows.
/// </summary>
public class TestDatabase : IAsyncLifetime
{
    public string Name { get; } = "test_" + Guid.NewGuid().ToString("N")[..16];
    public string ConnectionString { get; private set; } = "";
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    /// <summary>The server's connection string, from DATABASE_URL.</summary>
    public static NpgsqlConnectionStringBuilder Server()
    {
        var url = Environment.GetEnvironmentVariable("DATABASE_URL")
            ?? throw new InvalidOperationException("The tests need a PostgreSQL server: run them with ./test, which starts one and sets DATABASE_URL.");
        var builder = PostgresConnectionString.Parse(url);
        builder.Database = "postgres";
        return builder;
    }

    public virtual async Task InitializeAsync()
    {
        await ExecuteOnServer($"CREATE DATABASE {Name}");
        var builder = Server();
        builder.Database = Name;
        ConnectionString = builder.ConnectionString;
        DataSource = PostgresDataSource.Create(ConnectionString);
    }

    public virtual async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await ExecuteOnServer($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
    }

    /// <summary>Refuses new connections to this database and ends the open ones: to its users, the database is gone.</summary>
    public Task SetConnectionsAllowed(bool allowed) => ExecuteOnServer(allowed
        ? $"ALTER DATABASE {Name} ALLOW_CONNECTIONS true"
        : $"ALTER DATABASE {Name} ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{Name}'");

    public async Task<T> Scalar<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task Execute(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs SQL on the server's maintenance database (creating, dropping, closing databases).</summary>
    public static async Task ExecuteOnServer(string sql)
    {
        await using var connection = new NpgsqlConnection(Server().ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
