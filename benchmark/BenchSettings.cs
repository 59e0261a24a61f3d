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
        args.Length > 0 ? args : ["append", "submit", "status", "sse", "rebuild"]);

    public bool Runs(string scenario) => Scenarios.Contains(scenario);
}
