using EventSourced.EventStore;
using Npgsql;

namespace EventSourced.Benchmark;

public sealed record BenchSettings(string ConnectionString, TimeSpan Warmup, TimeSpan Duration, string[] Scenarios)
{
    public NpgsqlConnectionStringBuilder Server => PostgresConnectionString.Parse(ConnectionString);

    public static BenchSettings FromEnvironment(string[] args) => new(
        Environment.GetEnvironmentVariable("BENCH_DATABASE_URL") ?? throw new InvalidOperationException("Run the benchmark with ./bench: it sets BENCH_DATABASE_URL."),
        TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("BENCH_WARMUP_SECONDS") ?? "2", System.Globalization.CultureInfo.InvariantCulture)),
        TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("BENCH_SECONDS") ?? "8", System.Globalization.CultureInfo.InvariantCulture)),
        args.Length > 0 ? args : ["append", "submit", "status", "auth", "sketch", "sse", "longpoll", "callbacks", "search", "feed", "tail", "fairness", "jobs", "peers", "rebuild", "archive"]);

    public bool Runs(string scenario) => Scenarios.Contains(scenario);

    /// <summary>
    /// These settings on a new, empty database of the given name: each scenario starts from nothing, so that
    /// none runs against what another left (jobs a runner would take up, rows that slow the next one down).
    /// </summary>
    public async Task<BenchSettings> WithFreshDatabase(string name)
    {
        var server = Server;
        server.Database = "postgres";
        await using (var admin = new NpgsqlConnection(server.ConnectionString))
        {
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}", admin);
            await command.ExecuteNonQueryAsync();
        }
        server.Database = name;
        return this with { ConnectionString = server.ConnectionString };
    }
}
