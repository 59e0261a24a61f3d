using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace EventSourced.Benchmark;

/// <summary>
/// The seed article's in-memory Express sketch (peers/express-sketch/server.mjs, under Node), measured as
/// <see cref="HttpScenarios"/> measures our submit and status: the same wrk, 64 connections, warm-up and measured time.
/// <list type="bullet">
/// <item>sketch-submit: POST /transcodes with a fresh Idempotency-Key per request.</item>
/// <item>sketch-status: GET /jobs/{id} over random ids of 20,000 jobs submitted just before.</item>
/// </list>
/// The sketch keeps its jobs and keys in two Maps of one Node process and runs each job there at once (1 step, 0 ms), so
/// by the time status is read every job has completed; nothing is written anywhere, nothing outlives the process. When
/// submit and status ran in the same run, each line also carries ours (eventsourced_ops_per_s) and ours divided by the
/// sketch's (eventsourced_ratio_ops_per_s: above 1, ours answers more per second).
/// </summary>
public static class SketchScenario
{
    private const int StatusJobs = 20_000;

    public static async Task Run(BenchSettings settings)
    {
        var port = ApiServer.FreePort();
        var url = $"http://127.0.0.1:{port}";
        var info = new ProcessStartInfo("node", ["server.mjs"])
        {
            WorkingDirectory = Path.Combine(ApiServer.RepositoryRoot(), "benchmark", "peers", "express-sketch"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        using var node = Process.Start(info)!;
        try
        {
            await Ready(node);
            Result("sketch-submit", "submit", await Submit(settings, url), node);
            Result("sketch-status", "status", await Status(settings, url), node);
        }
        finally
        {
            // Also when a scenario failed: a server left running would hold a core the next scenarios share.
            if (!node.HasExited)
                node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
        }
    }

    /// <summary>Waits for the sketch's "listening PORT" line; what else it prints goes to our log.</summary>
    private static async Task Ready(Process node)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        node.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("listening ", StringComparison.Ordinal) == true)
                ready.TrySetResult();
            else if (e.Data is not null)
                Report.Say("sketch: " + e.Data);
        };
        node.ErrorDataReceived += (_, e) => { if (e.Data is not null) Report.Say("sketch: " + e.Data); };
        node.BeginOutputReadLine();
        node.BeginErrorReadLine();
        var finished = await Task.WhenAny(ready.Task, node.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (finished != ready.Task)
            throw new InvalidOperationException(node.HasExited ? "The sketch exited at start-up." : "The sketch did not say it was listening.");
    }

    /// <summary>Reports the sketch's line, with ours beside it when <paramref name="ours"/> ran in this run.</summary>
    private static void Result(string scenario, string ours, HttpScenarios.WrkResult result, Process node)
    {
        var line = HttpScenarios.Figures(result, node.Id).ToList();
        if (Report.Reported(ours, "ops_per_s") is { } figure && result.OpsPerSecond > 0)
            line.AddRange([("eventsourced_ops_per_s", figure), ("eventsourced_ratio_ops_per_s", figure / result.OpsPerSecond)]);
        Report.Result(scenario, [.. line]);
    }

    /// <summary>The article's client: a fresh Idempotency-Key per submit, its body a file id, no credential.</summary>
    private static Task<HttpScenarios.WrkResult> Submit(BenchSettings settings, string url) =>
        HttpScenarios.Wrk(settings, url, "sketch-submit", HttpScenarios.SubmitScript("/transcodes", """{"fileId":"bench"}""", headers: ""));

    private static async Task<HttpScenarios.WrkResult> Status(BenchSettings settings, string url) =>
        await HttpScenarios.Wrk(settings, url, "sketch-status", HttpScenarios.StatusScript(await SubmitJobs(url, StatusJobs), headers: ""));

    /// <summary>Jobs to read, submitted as the article's client submits them, 64 at a time; their ids as the sketch answered.</summary>
    private static async Task<string[]> SubmitJobs(string url, int count)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(url) };
        var ids = new string[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, cancel) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/transcodes")
            {
                Content = new StringContent("""{"fileId":"bench"}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
            using var response = await client.SendAsync(request, cancel);
            response.EnsureSuccessStatusCode();
            ids[i] = (await response.Content.ReadFromJsonAsync<JsonElement>(cancel)).GetProperty("jobId").GetString()!;
        });
        return ids;
    }
}
