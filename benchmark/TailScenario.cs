using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario: auditors' live tails. N tails of GET /events/stream on one tenant while jobs are submitted one at a time at a
/// steady rate: the latency from each submission's 202 to its event on every tail (p50 and p99 over all tails and jobs),
/// and what the tails cost: the feed reads per append and the statements per second the database ran (pg_stat_statements),
/// and the server's CPU.
/// </summary>
public static class TailScenario
{
    private static readonly int Tails = int.Parse(Environment.GetEnvironmentVariable("BENCH_TAIL_CLIENTS") ?? "1000", CultureInfo.InvariantCulture);
    private static readonly int JobsPerSecond = int.Parse(Environment.GetEnvironmentVariable("BENCH_TAIL_RATE") ?? "20", CultureInfo.InvariantCulture);

    // How long tails that fell behind may take to receive the last jobs, after the last is submitted.
    private static readonly TimeSpan CatchUp = TimeSpan.FromMinutes(1);

    public static async Task Run(BenchSettings settings)
    {
        await using var api = await ApiServer.Start(settings, new Dictionary<string, string>
        {
            ["Runner__Enabled"] = "false",
            ["Jobs__Types__held__External"] = "true",
        });
        using var http = await api.Client();
        await SseScenarios.Submit(http, 200, "held", "{}");
        var start = (await http.GetFromJsonAsync<JsonElement>("/events?limit=1")).GetProperty("horizon").GetInt64();
        var tails = await OpenAll(api, $"/events/stream?after={start}");

        var (warmup, total) = ((int)(JobsPerSecond * settings.Warmup.TotalSeconds), (int)(JobsPerSecond * (settings.Warmup + settings.Duration).TotalSeconds));
        var jobs = Enumerable.Range(0, total).Select(_ => new TaskCompletionSource<Guid>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var submitted = new long[total];
        var arrivals = tails.Select(_ => new long[total]).ToArray();
        var following = tails.Select((tail, i) => Follow(tail, jobs, arrivals[i])).ToArray();

        await using var database = NpgsqlDataSource.Create(settings.ConnectionString);
        await using (var extension = database.CreateCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            await extension.ExecuteNonQueryAsync();
        (long Statements, long FeedReads, double CpuSeconds, long At) before = default;
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / JobsPerSecond));
        for (var j = 0; j < total && await tick.WaitForNextTickAsync(); j++)
        {
            if (j == warmup)
            {
                var (statements, reads) = await Statements(database);
                before = (statements, reads, CpuSeconds(api.Pid), Stopwatch.GetTimestamp());
            }
            var id = await SseScenarios.Post(http, "held", "{}");
            submitted[j] = Stopwatch.GetTimestamp();
            jobs[j].SetResult(id);
        }
        var (statementsAfter, readsAfter) = await Statements(database);
        var (cpuAfter, end) = (CpuSeconds(api.Pid), Stopwatch.GetTimestamp());

        await Task.WhenAny(Task.WhenAll(following), Task.Delay(CatchUp));
        foreach (var tail in tails)
            tail.Dispose();
        var latencies = new Latencies();
        var arrived = 0;
        foreach (var tail in arrivals)
        {
            for (var j = warmup; j < total; j++)
            {
                if (tail[j] == 0)
                    continue;
                latencies.Add(Stopwatch.GetElapsedTime(submitted[j], tail[j]));
                arrived++;
            }
        }
        var (seconds, appends) = (Stopwatch.GetElapsedTime(before.At, end).TotalSeconds, total - warmup);
        Report.Result($"tail-{Tails}", ("jobs_per_s", appends / seconds), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)),
            ("arrived", arrived), ("expected", appends * tails.Count), ("feed_reads_per_append", (double)(readsAfter - before.FeedReads) / appends),
            ("statements_per_s", (statementsAfter - before.Statements) / seconds), ("server_cpu_pct", 100 * (cpuAfter - before.CpuSeconds) / seconds),
            ("rss_mb", Report.RssMb(api.Pid)));
    }

    private static async Task<List<RawConnection>> OpenAll(ApiServer api, string path)
    {
        using var gate = new SemaphoreSlim(200);
        var tails = await Task.WhenAll(Enumerable.Range(0, Tails).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                var tail = await RawConnection.Open(api, path, "Accept: text/event-stream");
                if (!await tail.WaitFor("retry: "))
                    throw new InvalidOperationException("A tail did not start.");
                return tail;
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. tails];
    }

    /// <summary>One tail: the jobs' events, in the order they were submitted (one at a time, so that is the feed's order).</summary>
    private static async Task Follow(RawConnection tail, TaskCompletionSource<Guid>[] jobs, long[] arrivals)
    {
        try
        {
            for (var j = 0; j < jobs.Length; j++)
            {
                var id = (await jobs[j].Task).ToString();
                if (!await tail.WaitFor(id))
                    return;
                arrivals[j] = Stopwatch.GetTimestamp();
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // Closed after the catch-up time: what did not arrive by then is counted as missing.
        }
    }

    /// <summary>Statements the database ran so far, all and those reading the feed (events by sequence number).</summary>
    private static async Task<(long All, long FeedReads)> Statements(NpgsqlDataSource database)
    {
        await using var command = database.CreateCommand("""
            SELECT coalesce(sum(calls), 0)::bigint,
                   coalesce(sum(calls) FILTER (WHERE query LIKE '%.mt_events as d%' AND query LIKE '%d.seq_id >%'), 0)::bigint
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>CPU time a process has used, user and system, from /proc (in clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}
