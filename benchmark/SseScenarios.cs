using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario 6: many SSE clients at once. For each N, on a fresh service process:
/// hold: N idle streams on jobs nobody runs (server memory per idle connection);
/// steady (N = 1,000): with those streams held, short jobs at a sustainable rate, each followed to
///       "completed" (POST to completed latency when the service is not saturated);
/// run:  N clients each POST a short job and follow it to "completed", all at once (POST to completed
///       latency, server memory at the end).
/// </summary>
public static class SseScenarios
{
    // Each process may open at most 20,000 files in this sandbox (ulimit -Hn), the server's sockets
    // included, so the largest run stays under it.
    private static readonly int[] Clients = (Environment.GetEnvironmentVariable("BENCH_SSE_CLIENTS") ?? "1000,10000,19000").Split(',').Select(int.Parse).ToArray();

    // Well under what two cores sustain (about 1,000 short jobs/s, each four appends and a claim).
    private const int SteadyJobsPerSecond = 200;

    public static async Task Run(BenchSettings settings)
    {
        foreach (var n in Clients)
        {
            await using var api = await ApiServer.Start(settings, new Dictionary<string, string>
            {
                ["Jobs__Types__held__External"] = "true",
                ["Runner__Concurrency"] = "64",
            });
            using var http = await api.Client(connections: 256);
            await Submit(http, 200, "held", "{}");            // warm up the submit path
            await Task.Delay(1000);
            var baseline = Report.RssMb(api.Pid);

            var held = await Submit(http, n, "held", "{}");
            var streams = await OpenAll(api, held);
            await Task.Delay(3000);
            var holding = Report.RssMb(api.Pid);
            Report.Result($"sse-hold-{n}", ("connections", streams.Count(s => s.Connected)), ("rss_mb", holding),
                ("kb_per_idle_connection", (holding - baseline) * 1024 / n));
            if (n == Clients[0])
            {
                var (started, steady) = await RunAtRate(api, http, SteadyJobsPerSecond, settings.Duration);
                Report.Result($"sse-steady-{n}", ("jobs_per_s", SteadyJobsPerSecond), ("p50_ms", steady.Percentile(50)),
                    ("p99_ms", steady.Percentile(99)), ("started", started), ("completed", steady.Count), ("held_connections", n));
            }
            foreach (var stream in streams)
                stream.Dispose();
            await Task.Delay(2000);

            var latencies = await RunShortJobs(api, http, n);
            Report.Result($"sse-{n}", ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)),
                ("completed", latencies.Count), ("rss_mb", Report.RssMb(api.Pid)));
        }
    }

    /// <summary>Submits <paramref name="count"/> jobs, 64 at a time; <paramref name="extra"/> is more of the body (",\"callbackUrl\":...").</summary>
    internal static async Task<List<Guid>> Submit(HttpClient http, int count, string type, string input, string extra = "")
    {
        var ids = new Guid[count];
        using var gate = new SemaphoreSlim(64);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                ids[i] = await Post(http, type, input, extra);
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. ids];
    }

    internal static async Task<Guid> Post(HttpClient http, string type, string input, string extra = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/jobs")
        {
            Content = new StringContent($$$"""{"type":"{{{type}}}","input":{{{input}}}{{{extra}}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid();
    }

    private static async Task<List<RawConnection>> OpenAll(ApiServer api, List<Guid> jobs)
    {
        using var gate = new SemaphoreSlim(200);
        var streams = await Task.WhenAll(jobs.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                var stream = await RawConnection.Open(api, $"/jobs/{id}/events", "Accept: text/event-stream");
                await stream.WaitFor("event: queued");
                return stream;
            }
            finally
            {
                gate.Release();
            }
        }));
        return [.. streams];
    }

    /// <summary>
    /// Jobs at a rate the box sustains, each followed over SSE by a client of its own, while the held
    /// streams stay open: the latency a client sees when the service is not saturated.
    /// </summary>
    private static async Task<(int Started, Latencies Latencies)> RunAtRate(ApiServer api, HttpClient http, int jobsPerSecond, TimeSpan duration)
    {
        var latencies = new Latencies();
        var clients = new List<Task>();
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / jobsPerSecond));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration && await tick.WaitForNextTickAsync())
            clients.Add(Task.Run(() => FollowShortJob(api, http, latencies)));
        await Task.WhenAll(clients);
        return (clients.Count, latencies);
    }

    private static async Task FollowShortJob(ApiServer api, HttpClient http, Latencies latencies)
    {
        var started = Stopwatch.GetTimestamp();
        var id = await Post(http, "transcode", """{"fileId":"sse","steps":1,"stepMs":0}""");
        using var stream = await RawConnection.Open(api, $"/jobs/{id}/events", "Accept: text/event-stream");
        if (await stream.WaitFor("event: completed"))
            latencies.Add(Stopwatch.GetElapsedTime(started));
        else
            Report.Say($"job {id} was not seen completing; its status: {await http.GetStringAsync($"/jobs/{id}")}");
    }

    /// <summary>N clients at once, each: POST a short job, follow its stream until "completed".</summary>
    private static async Task<Latencies> RunShortJobs(ApiServer api, HttpClient http, int n)
    {
        var latencies = new Latencies();
        await Task.WhenAll(Enumerable.Range(0, n).Select(_ => Task.Run(() => FollowShortJob(api, http, latencies))));
        return latencies;
    }
}
