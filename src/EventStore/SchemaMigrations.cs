using System.Reflection;
using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// The numbered SQL scripts of one module (the event store, a set of projections), embedded
/// in its assembly as Schema/NNNN_name.sql and applied in order.
/// </summary>
public sealed record SchemaModule(string Name, Assembly Assembly)
{
    public static readonly SchemaModule EventStore = new("event_store", typeof(SchemaModule).Assembly);

    internal IEnumerable<(int Version, string Name, string Sql)> Scripts()
    {
        var prefix = Assembly.GetName().Name + ".Schema.";
        foreach (var resource in Assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var fileName = resource[prefix.Length..^".sql".Length];
            var version = int.Parse(fileName[..fileName.IndexOf('_', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
            using var reader = new StreamReader(Assembly.GetManifestResourceStream(resource)!);
            yield return (version, fileName, reader.ReadToEnd());
        }
    }
}

public static class SchemaMigrations
{
    /// <summary>
    /// Applies every script not yet recorded in schema_migrations, in one transaction under an
    /// advisory lock, so nodes starting together neither race nor apply a script twice.
    /// </summary>
    public static async Task Apply(NpgsqlDataSource dataSource, IEnumerable<SchemaModule> modules, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await Execute(connection, """
            SELECT pg_advisory_xact_lock(hashtext('schema_migrations'));
            CREATE TABLE IF NOT EXISTS schema_migrations (
                module     text        NOT NULL,
                version    int         NOT NULL,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (module, version)
            );
            """, ct);

        var applied = new HashSet<(string, int)>();
        await using (var command = new NpgsqlCommand("SELECT module, version FROM schema_migrations", connection))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                applied.Add((reader.GetString(0), reader.GetInt32(1)));
        }

        foreach (var module in modules)
        {
            foreach (var (version, name, sql) in module.Scripts())
            {
                if (applied.Contains((module.Name, version)))
                    continue;
                await Execute(connection, sql, ct);
                await using var record = new NpgsqlCommand("INSERT INTO schema_migrations (module, version, name) VALUES ($1, $2, $3)", connection)
                {
                    Parameters = { new() { Value = module.Name }, new() { Value = version }, new() { Value = name } },
                };
                await record.ExecuteNonQueryAsync(ct);
            }
        }
        await transaction.CommitAsync(ct);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}
