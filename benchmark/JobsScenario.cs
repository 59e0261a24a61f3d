using System.Diagnostics;
using System.Globalization;
using EventSourced.Domain.Jobs;
using Npgsql;

namespace EventSourced.Benchmark;

/// <summary>
/// Jobs end to end, as users feel them: accepted, claimed, run, finished, and the final event seen on the client's stream.
/// Each job is a transcode of one step of 0 ms, run in-process by the service's own runner (16 slots).
/// <list type="bullet">
/// <item>jobs-burst: <see cref="BurstJobs"/> jobs from 64 producers as fast as they are accepted; accepted per second while
///   submitting, and finished per second from the first submission to the last job finished (the backlog fully drained, so
///   the figure is what the service sustains, not a burst into a queue).</item>
/// <item>jobs-rate-R: R jobs a second offered for the measured time, each followed over its own event stream (up to 1,000
///   streams open at once): submit to started and submit to the final event seen, p50/p99/max, and whether it kept up (the
///   backlog when offering stopped).</item>
/// </list>
/// Each also reports what a job costs: events appended, statements and transactions in PostgreSQL (pg_stat_statements and
/// pg_stat_database), and CPU in the service, in PostgreSQL and in this load generator, in milliseconds per job.
/// </summary>
public static class JobsScenario
{
    internal static readonly int BurstJobs = int.Parse(Environment.GetEnvironmentVariable("BENCH_JOBS") ?? "20000", CultureInfo.InvariantCulture);

    internal static readonly int[] Rates = (Environment.GetEnvironmentVariable("BENCH_JOB_RATES") ?? "200,1000").Split(',').Select(int.Parse).ToArray();

    /// <summary>How long a wait for jobs to finish goes on with none finishing.</summary>
    internal static readonly TimeSpan Stall = TimeSpan.FromMinutes(2);

    private const string Input = """{"fileId":"bench","steps":1,"stepMs":0}""";

    private static readonly string UnfinishedJobs = $"SELECT count(*) FROM jobs.mt_doc_job_status WHERE status NOT IN ('{JobStatus.Completed}', '{JobStatus.Failed}', '{JobStatus.Cancelled}')";

    public static async Task Run(BenchSettings settings)
    {
        await using (var db = new NpgsqlConnection(settings.ConnectionString))
        {
            await db.OpenAsync();
            await new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db).ExecuteNonQueryAsync();
        }
        await using var api = await ApiServer.Start(settings, new Dictionary<string, string> { ["Runner__Concurrency"] = "16" });
        using var http = await api.Client(connections: 1024);
        await SseScenarios.Submit(http, 200, "transcode", Input);   // warm up every path a job takes
        await WaitUntilFinished(settings, 0, Stall, Stopwatch.StartNew());
        await Analyze(settings);

        await Burst(settings, api, http);
        foreach (var rate in Rates)
            await AtRate(settings, api, http, rate, settings.Duration);
    }

    private static async Task Burst(BenchSettings settings, ApiServer api, HttpClient http)
    {
        var before = await Costs.Take(settings, api);
        var clock = Stopwatch.StartNew();
        await SseScenarios.Submit(http, BurstJobs, "transcode", Input);
        var accepting = clock.Elapsed;
        var backlog = await Unfinished(settings);
        var drain = await WaitUntilFinished(settings, 0, Stall, clock);
        var cost = (await Costs.Take(settings, api)).Since(before, BurstJobs);
        Report.Result("jobs-burst", [("jobs", BurstJobs), ("producers", 64), ("accepted_per_s", BurstJobs / accepting.TotalSeconds),
            ("finished_per_s", (BurstJobs - drain.Left) / drain.LastFinished.TotalSeconds), ("backlog_when_accepted", backlog),
            ("drained", drain.Drained), ("unfinished", drain.Left), .. cost]);
    }

    private static async Task AtRate(BenchSettings settings, ApiServer api, HttpClient http, int rate, TimeSpan duration)
    {
        var toStart = new Latencies();
        var toEnd = new Latencies();
        var lost = 0;
        using var streams = new SemaphoreSlim(1000);
        var before = await Costs.Take(settings, api);
        var jobs = new List<Task>();
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rate));
        var clock = Stopwatch.StartNew();
        // A timer here fires at most every few milliseconds: each tick starts every job due by then, so 1,000/s is offered.
        while (clock.Elapsed < duration && await tick.WaitForNextTickAsync())
        {
            while (jobs.Count < clock.Elapsed.TotalSeconds * rate)
                jobs.Add(Task.Run(Follow));
        }
        var backlog = await Unfinished(settings);
        await Task.WhenAll(jobs);
        var cost = (await Costs.Take(settings, api)).Since(before, jobs.Count);
        Report.Result($"jobs-rate-{rate}", [("offered_per_s", rate), ("jobs", jobs.Count), ("offered_per_s_achieved", jobs.Count / duration.TotalSeconds),
            ("start_p50_ms", toStart.Percentile(50)), ("start_p99_ms", toStart.Percentile(99)),
            ("end_p50_ms", toEnd.Percentile(50)), ("end_p99_ms", toEnd.Percentile(99)), ("end_max_ms", toEnd.Percentile(100)),
            ("backlog_when_offering_stopped", backlog), ("not_seen_ending", lost), .. cost]);

        async Task Follow()
        {
            await streams.WaitAsync();
            try
            {
                var submitted = Stopwatch.GetTimestamp();
                var id = await SseScenarios.Post(http, "transcode", Input);
                using var stream = await RawConnection.Open(api, $"/jobs/{id}/events", "Accept: text/event-stream");
                if (await stream.WaitFor("event: processing"))
                    toStart.Add(Stopwatch.GetElapsedTime(submitted));
                if (await stream.WaitFor("event: completed"))
                    toEnd.Add(Stopwatch.GetElapsedTime(submitted));
                else
                    Interlocked.Increment(ref lost);
            }
            finally
            {
                streams.Release();
            }
        }
    }

    /// <summary>
    /// Gives the fresh database the planner statistics a service that has run a while has. Without them, autovacuum's first
    /// pass comes a minute in, and the plans the server prepared meanwhile are made for empty tables: in one run the claim's
    /// read of four first events by key touched 2,500 blocks a call, 3.7 ms. Ours and each peer's alike, after the warm-up.
    /// </summary>
    internal static async Task Analyze(BenchSettings settings)
    {
        await using var db = new NpgsqlConnection(settings.ConnectionString);
        await db.OpenAsync();
        await new NpgsqlCommand("ANALYZE", db).ExecuteNonQueryAsync();
    }

    /// <summary>Jobs not yet finished: ours, or a peer's by its own <paramref name="query"/>.</summary>
    internal static async Task<long> Unfinished(BenchSettings settings, string? query = null)
    {
        await using var db = new NpgsqlConnection(settings.ConnectionString);
        await db.OpenAsync();
        return (long)(await new NpgsqlCommand(query ?? UnfinishedJobs, db).ExecuteScalarAsync())!;
    }

    /// <summary>How a wait for jobs to finish ended: whether they all did, how many were left, and when on the caller's clock the last one finished.</summary>
    internal sealed record Drain(bool Drained, long Left, TimeSpan LastFinished);

    /// <summary>
    /// Waits until at most <paramref name="left"/> jobs are unfinished, or until none has finished for <paramref name="stall"/>: a
    /// job a queue lost is not waited for forever (Hangfire left 2 of 10,200 jobs enqueued for good in one run of 2026-12-05).
    /// </summary>
    internal static async Task<Drain> WaitUntilFinished(BenchSettings settings, long left, TimeSpan stall, Stopwatch clock, string? query = null)
    {
        var count = await Unfinished(settings, query);
        var lastFinished = clock.Elapsed;
        while (count > left)
        {
            if (clock.Elapsed - lastFinished > stall)
                return new Drain(false, count, lastFinished);
            await Task.Delay(50);
            var now = await Unfinished(settings, query);
            if (now < count)
                lastFinished = clock.Elapsed;
            count = now;
        }
        return new Drain(true, count, lastFinished);
    }

    /// <summary>Counters read before and after a run: events, statements, transactions, and CPU seconds of each side.</summary>
    private sealed record Costs(long Events, long Statements, long Transactions, double ServiceCpu, double PostgresCpu, double ClientCpu)
    {
        public static async Task<Costs> Take(BenchSettings settings, ApiServer api)
        {
            await using var db = new NpgsqlConnection(settings.ConnectionString);
            await db.OpenAsync();
            await using var command = new NpgsqlCommand("""
                SELECT (SELECT coalesce(max(seq_id), 0) FROM jobs.mt_events),
                       (SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
                       (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database())
                """, db);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return new Costs(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), CpuSeconds(api.Pid), PostgresCpuSeconds(), CpuSeconds(Environment.ProcessId));
        }

        public (string, object)[] Since(Costs before, int jobs) =>
        [
            ("events_per_job", (double)(Events - before.Events) / jobs),
            ("statements_per_job", (double)(Statements - before.Statements) / jobs),
            ("transactions_per_job", (double)(Transactions - before.Transactions) / jobs),
            ("service_cpu_ms_per_job", (ServiceCpu - before.ServiceCpu) * 1000 / jobs),
            ("postgres_cpu_ms_per_job", (PostgresCpu - before.PostgresCpu) * 1000 / jobs),
            ("client_cpu_ms_per_job", (ClientCpu - before.ClientCpu) * 1000 / jobs),
        ];
    }

    /// <summary>User and system CPU of a process so far, from /proc (in clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>CPU of every PostgreSQL process (the server and its backends, living ones: a backend that ended takes its share with it).</summary>
    private static double PostgresCpuSeconds() =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsDigit)).Select(p => int.Parse(p!, CultureInfo.InvariantCulture))
            .Where(pid => ProcessName(pid) == "postgres").Sum(pid => TryCpuSeconds(pid));

    private static string? ProcessName(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static double TryCpuSeconds(int pid)
    {
        try
        {
            return CpuSeconds(pid);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
