using System.Net;
using Npgsql;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario: search (GET /jobs) over a tenant with many jobs. The status rows are generated in SQL from one real job (a
/// million jobs through the API would take longer than the rest of the bench), then each query is run by 16 clients for
/// the measured time: p50 and p99 of a page.
/// </summary>
public static class SearchScenario
{
    private static readonly int[] Sizes = (Environment.GetEnvironmentVariable("BENCH_SEARCH_JOBS") ?? "1000000").Split(',').Select(int.Parse).ToArray();
    private const int Batch = 200_000;

    public static async Task Run(BenchSettings settings)
    {
        await using var api = await ApiServer.Start(settings, new Dictionary<string, string> { ["Runner__Enabled"] = "false" });
        using var http = await api.Client(connections: 64);
        await SseScenarios.Submit(http, 1, "transcode", """{"fileId":"template"}""");
        var generated = 0;
        foreach (var size in Sizes)
        {
            for (; generated < size; generated += Batch)
                await Generate(settings.ConnectionString, generated + 1, Math.Min(generated + Batch, size));
            await Execute(settings.ConnectionString, "VACUUM ANALYZE jobs.mt_doc_job_status");
            Report.Say($"{size:N0} jobs generated");

            var middle = DateTimeOffset.UtcNow.AddSeconds(-size * 0.005).ToString("O");
            foreach (var (name, url) in new[]
            {
                ("newest", "/jobs?limit=50"),
                ("status", "/jobs?status=failed&limit=50"),
                ("status-type", "/jobs?status=queued&type=report&limit=50"),
                ("correlation", "/jobs?correlationId=order-4242"),
                ("deep", $"/jobs?createdTo={Uri.EscapeDataString(middle)}&limit=50"),
            })
            {
                var (perSecond, latencies) = await Load.Run(16, settings.Warmup, settings.Duration, async _ =>
                {
                    using var response = await http.GetAsync(url);
                    if (response.StatusCode != HttpStatusCode.OK)
                        throw new InvalidOperationException($"{url}: {response.StatusCode}");
                    await response.Content.ReadAsByteArrayAsync();
                });
                Report.Result($"search-{name}-{size}", ("per_s", perSecond), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)));
            }
        }
    }

    /// <summary>Jobs <paramref name="from"/> to <paramref name="to"/>: the template's row with a new id, status, type, creation time (10 ms apart) and correlation id (ten jobs each).</summary>
    private static Task Generate(string connectionString, int from, int to) => Execute(connectionString, """
        INSERT INTO jobs.mt_doc_job_status (tenant_id, id, data, mt_dotnet_type, mt_version, status, type, created_at, correlation_id)
        SELECT t.tenant_id, g.id,
               t.data || jsonb_build_object('id', g.id, 'createdAt', g.created_at, 'correlationId', g.correlation_id,
                                            'state', t.data -> 'state' || jsonb_build_object('id', g.id, 'status', g.status, 'type', g.type)),
               t.mt_dotnet_type, 1, g.status, g.type, g.created_at, g.correlation_id
        FROM (SELECT * FROM jobs.mt_doc_job_status ORDER BY created_at LIMIT 1) AS t
        CROSS JOIN (
            SELECT gen_random_uuid() AS id,
                   (ARRAY['Queued', 'Processing', 'Completed', 'Failed', 'Cancelled'])[1 + i % 5] AS status,
                   (ARRAY['transcode', 'report', 'payment'])[1 + i % 3] AS type,
                   now() - make_interval(secs => i * 0.01) AS created_at,
                   'order-' || (i / 10) AS correlation_id
            FROM generate_series($1::int, $2::int) AS i) AS g
        """, from, to);

    private static async Task Execute(string connectionString, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var parameter in parameters)
            command.Parameters.Add(new() { Value = parameter });
        await command.ExecuteNonQueryAsync();
    }
}
