using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSourced.Benchmark;

/// <summary>
/// The client paths besides SSE, each on a fresh service process.
/// longpoll: N long polls held (GET /jobs/{id} with If-None-Match and Prefer: wait=60) on jobs nobody runs: server
///           memory per held request; then every job is cancelled, and each poll must answer 200: the time from
///           sending a cancellation to its poll's answer.
/// callbacks: N jobs with a callbackUrl on a receiver in this process, all cancelled at once: callbacks delivered
///            (signed, sent, answered and recorded in the job's history) per second.
/// </summary>
public static class ClientPathScenarios
{
    private static readonly int[] Polls = (Environment.GetEnvironmentVariable("BENCH_LONGPOLL_CLIENTS") ?? "1000,10000").Split(',').Select(int.Parse).ToArray();
    private static readonly int Callbacks = int.Parse(Environment.GetEnvironmentVariable("BENCH_CALLBACKS") ?? "3000", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task RunLongPolls(BenchSettings settings)
    {
        foreach (var n in Polls)
        {
            await using var api = await ApiServer.Start(settings, new Dictionary<string, string> { ["Jobs__Types__held__External"] = "true" });
            using var http = await api.Client(connections: 256);
            await SseScenarios.Submit(http, 200, "held", "{}");
            await Task.Delay(1000);
            var baseline = Report.RssMb(api.Pid);

            var jobs = await SseScenarios.Submit(http, n, "held", "{}");
            using var gate = new SemaphoreSlim(200);
            var polls = await Task.WhenAll(jobs.Select(async id =>
            {
                await gate.WaitAsync();
                try
                {
                    // Version 1: submitted and not moved since, so the poll is held.
                    return await RawConnection.Open(api, $"/jobs/{id}", "If-None-Match: \"1\"", "Prefer: wait=60");
                }
                finally
                {
                    gate.Release();
                }
            }));
            await Task.Delay(3000);
            var holding = Report.RssMb(api.Pid);
            Report.Result($"longpoll-hold-{n}", ("held", polls.Count(p => p.Connected)), ("rss_mb", holding), ("kb_per_held_poll", (holding - baseline) * 1024 / n));

            var latencies = new Latencies();
            var sentAt = jobs.Select(_ => new TaskCompletionSource<long>()).ToArray();
            var answered = Task.WhenAll(polls.Select(async (poll, i) =>
            {
                var ok = await poll.WaitFor("HTTP/1.1 200");
                if (ok)
                    latencies.Add(Stopwatch.GetElapsedTime(await sentAt[i].Task));
            }));
            await Task.WhenAll(jobs.Select(async (id, i) =>
            {
                await gate.WaitAsync();
                try
                {
                    sentAt[i].SetResult(Stopwatch.GetTimestamp());
                    (await http.PostAsync($"/jobs/{id}/cancel", null)).EnsureSuccessStatusCode();
                }
                finally
                {
                    gate.Release();
                }
            }));
            await answered;
            Report.Result($"longpoll-wake-{n}", ("answered", latencies.Count), ("p50_ms", latencies.Percentile(50)), ("p99_ms", latencies.Percentile(99)));
            foreach (var poll in polls)
                poll.Dispose();
        }
    }

    public static async Task RunCallbacks(BenchSettings settings)
    {
        await using var receiver = await Receiver.Start();
        await using var api = await ApiServer.Start(settings, new Dictionary<string, string>
        {
            ["Jobs__Types__held__External"] = "true",
            ["Webhooks__AllowedHosts__0"] = "127.0.0.1",
            ["Webhooks__Secrets__default"] = "whsec_" + Convert.ToBase64String(new byte[24]),
        });
        using var http = await api.Client(connections: 256);
        var jobs = await SseScenarios.Submit(http, Callbacks, "held", "{}", $",\"callbackUrl\":\"{receiver.Url}\"");

        var started = Stopwatch.GetTimestamp();
        using var gate = new SemaphoreSlim(64);
        await Task.WhenAll(jobs.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                (await http.PostAsync($"/jobs/{id}/cancel", null)).EnsureSuccessStatusCode();
            }
            finally
            {
                gate.Release();
            }
        }));
        var cancelled = Stopwatch.GetElapsedTime(started);
        while (receiver.Received < Callbacks && Stopwatch.GetElapsedTime(started) < TimeSpan.FromMinutes(5))
            await Task.Delay(50);
        var delivered = Stopwatch.GetElapsedTime(started, receiver.LastAt);
        Report.Result("callbacks", ("jobs", Callbacks), ("delivered", receiver.Received), ("deliveries_per_s", receiver.Received / delivered.TotalSeconds),
            ("cancels_per_s", Callbacks / cancelled.TotalSeconds), ("seconds", delivered.TotalSeconds));
    }

    /// <summary>Answers every callback 200 at once and counts them, with the time of the last one.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _received;
        private long _last;

        private Receiver(WebApplication app) => _app = app;

        public string Url { get; private set; } = "";
        public int Received => Volatile.Read(ref _received);

        /// <summary>When the last callback arrived (a Stopwatch timestamp).</summary>
        public long LastAt => Interlocked.Read(ref _last);

        public static async Task<Receiver> Start()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var receiver = new Receiver(builder.Build());
            receiver._app.MapPost("/hook", () =>
            {
                Interlocked.Increment(ref receiver._received);
                Interlocked.Exchange(ref receiver._last, Stopwatch.GetTimestamp());
                return Results.Ok();
            });
            await receiver._app.StartAsync();
            receiver.Url = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/hook";
            return receiver;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
