using System.Diagnostics;
using System.Globalization;
using EventSourced.EventStore;
using Npgsql;

namespace EventSourced.Benchmark;

public sealed record BenchHappened(int N);

/// <summary>
/// Scenarios 1 to 3: one event per append, to a new stream or to an existing one at its expected
/// version, through the event store API; and the same SQL through pgbench, one transaction per
/// append, as the ceiling to compare with.
/// </summary>
public static class AppendScenarios
{
    private const int ExistingStreams = 10_000;

    private const string NewStreamSql = """
        WITH s AS (INSERT INTO streams (id, tenant_id, type, version) VALUES (gen_random_uuid(), 'default', 'bench', 1) RETURNING id)
        INSERT INTO events (id, stream_id, version, type, data, metadata, tenant_id)
        SELECT gen_random_uuid(), id, 1, 'bench.happened', '{"n": 1}', '{}', 'default' FROM s;
        """;

    private const string ExistingStreamSql = """
        \set n random(1, 10000)
        WITH s AS (UPDATE streams SET version = version + 1, updated_at = now()
                   WHERE id = (SELECT id FROM bench_streams WHERE n = :n) RETURNING id, version)
        INSERT INTO events (id, stream_id, version, type, data, metadata, tenant_id)
        SELECT gen_random_uuid(), id, version, 'bench.happened', '{"n": 1}', '{}', 'default' FROM s;
        """;

    public static async Task Run(BenchSettings settings)
    {
        var types = new EventTypes().Register("bench.happened", typeof(BenchHappened));
        await using var dataSource = PostgresDataSource.Create(settings.ConnectionString);
        await SchemaMigrations.Apply(dataSource, [SchemaModule.EventStore]);
        var store = new PostgresEventStore(dataSource, types, []);
        await PrepareExistingStreams(dataSource);

        await ClientFloor(settings, dataSource);
        foreach (var writers in (int[])[1, 8, 32])
        {
            var ceiling = await Pgbench(settings, $"ceiling-new-{writers}", NewStreamSql, writers);
            var (ops, latencies) = await Load.Run(writers, settings.Warmup, settings.Duration,
                _ => store.StartStream(Guid.CreateVersion7(), "bench", [new BenchHappened(1)]));
            Report.Result($"append-new-{writers}", ("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)),
                ("rss_mb", Report.RssMb()), ("vs_ceiling", ops / ceiling));
        }

        foreach (var writers in (int[])[1, 8, 32])
        {
            var ceiling = await Pgbench(settings, $"ceiling-existing-{writers}", ExistingStreamSql, writers);
            // Each writer appends round-robin to streams of its own, so it knows their versions.
            var owned = await OwnStreams(dataSource, writers);
            var next = new int[writers];
            var (ops, latencies) = await Load.Run(writers, settings.Warmup, settings.Duration, async worker =>
            {
                var streams = owned[worker];
                var i = next[worker]++ % streams.Length;
                var result = await store.Append(streams[i].Id, streams[i].Version, [new BenchHappened(2)]);
                streams[i] = (streams[i].Id, result.Version);
            });
            Report.Result($"append-existing-{writers}", ("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)),
                ("rss_mb", Report.RssMb()), ("vs_ceiling", ops / ceiling));
        }
    }

    /// <summary>
    /// The same two INSERTs from this process through plain Npgsql, one writer: what a .NET client
    /// pays for one durable commit here, below which no append through this process can go.
    /// </summary>
    private static async Task ClientFloor(BenchSettings settings, Npgsql.NpgsqlDataSource dataSource)
    {
        var (ops, latencies) = await Load.Run(1, settings.Warmup, settings.Duration, async _ =>
        {
            await using var command = dataSource.CreateCommand("""
                WITH s AS (INSERT INTO streams (id, tenant_id, type, version) VALUES ($1, 'default', 'bench', 1) RETURNING id)
                INSERT INTO events (id, stream_id, version, type, data, metadata, tenant_id)
                SELECT $2, id, 1, 'bench.happened', '{"n": 1}', '{}', 'default' FROM s
                """);
            command.Parameters.Add(new() { Value = Guid.NewGuid() });
            command.Parameters.Add(new() { Value = Guid.NewGuid() });
            await command.ExecuteNonQueryAsync();
        });
        Report.Result("npgsql-floor-new-1", ("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)));
    }

    private static async Task PrepareExistingStreams(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand($$"""
            DROP TABLE IF EXISTS bench_streams;
            CREATE TABLE bench_streams (n int PRIMARY KEY, id uuid NOT NULL);
            WITH created AS (
                INSERT INTO streams (id, tenant_id, type, version)
                SELECT gen_random_uuid(), 'default', 'bench-existing', 1 FROM generate_series(1, {{ExistingStreams}})
                RETURNING id),
            numbered AS (INSERT INTO bench_streams SELECT row_number() OVER (), id FROM created RETURNING id)
            INSERT INTO events (id, stream_id, version, type, data, metadata, tenant_id)
            SELECT gen_random_uuid(), id, 1, 'bench.happened', '{"n": 0}', '{}', 'default' FROM numbered;
            """);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Streams and their versions, split among the writers.</summary>
    private static async Task<(Guid Id, long Version)[][]> OwnStreams(NpgsqlDataSource dataSource, int writers)
    {
        var all = new List<(Guid, long)>();
        await using var command = dataSource.CreateCommand("SELECT s.id, s.version FROM streams s JOIN bench_streams b ON b.id = s.id ORDER BY b.n");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            all.Add((reader.GetGuid(0), reader.GetInt64(1)));
        return [.. Enumerable.Range(0, writers).Select(w => all.Where((_, i) => i % writers == w).ToArray())];
    }

    /// <summary>pgbench running <paramref name="script"/>, one transaction per append. Returns its appends per second.</summary>
    private static async Task<double> Pgbench(BenchSettings settings, string scenario, string script, int clients)
    {
        var work = Directory.CreateTempSubdirectory("pgbench-");
        try
        {
            var file = Path.Combine(work.FullName, "script.sql");
            await File.WriteAllTextAsync(file, script);
            var seconds = (int)(settings.Warmup + settings.Duration).TotalSeconds;
            var info = new ProcessStartInfo("pgbench",
                ["-n", "-M", "prepared", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, 4).ToString(CultureInfo.InvariantCulture),
                 "-T", seconds.ToString(CultureInfo.InvariantCulture), "-l", "-f", file,
                 "-h", settings.Server.Host!, "-p", settings.Server.Port.ToString(CultureInfo.InvariantCulture), "-U", settings.Server.Username!, settings.Server.Database!])
            {
                WorkingDirectory = work.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(info)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"pgbench failed: {errors}");

            // Per-transaction log lines: client, transaction, latency (us), script, epoch s, epoch us. Skip the warm-up.
            var warmupEnds = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - (long)settings.Duration.TotalSeconds;
            var latencies = new Latencies();
            long count = 0;
            foreach (var log in work.GetFiles("pgbench_log.*"))
            {
                foreach (var line in File.ReadLines(log.FullName))
                {
                    var fields = line.Split(' ');
                    if (long.Parse(fields[4], CultureInfo.InvariantCulture) < warmupEnds)
                        continue;
                    latencies.Add(TimeSpan.FromMicroseconds(long.Parse(fields[2], CultureInfo.InvariantCulture)));
                    count++;
                }
            }
            var ops = count / settings.Duration.TotalSeconds;
            Report.Result(scenario, ("ops_per_s", ops), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)));
            return ops;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
