using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario: fair scheduling. One tenant queues 30,000 short jobs, enough to keep every runner slot busy for minutes; then
/// another tenant submits one: how long until that job starts (and until it would have, in the backlog's queue order).
/// </summary>
public static class FairnessScenario
{
    private const int Backlog = 30_000;

    public static async Task Run(BenchSettings settings)
    {
        await using var api = await ApiServer.Start(settings, new Dictionary<string, string> { ["Runner__Concurrency"] = "8" });
        using var backlog = await api.Client("backlog", connections: 64);
        using var small = await api.Client("small");
        using var gate = new SemaphoreSlim(64);
        await Task.WhenAll(Enumerable.Range(0, Backlog).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                await Submit(backlog);
            }
            finally
            {
                gate.Release();
            }
        }));
        await Task.Delay(2000);

        var clock = Stopwatch.StartNew();
        var id = await Submit(small);
        while (await Status(small, id) == "queued" && clock.Elapsed < TimeSpan.FromMinutes(10))
            await Task.Delay(10);
        var waited = clock.Elapsed;
        var backlogLeft = await Queued(backlog);
        Report.Result("fairness", ("backlog_jobs", Backlog), ("backlog_still_queued", backlogLeft), ("other_tenant_started_after_ms", waited.TotalMilliseconds));
    }

    private static async Task<Guid> Submit(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/jobs")
        {
            Content = new StringContent("""{"type":"transcode","input":{"fileId":"f","steps":1,"stepMs":50}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid();
    }

    private static async Task<string> Status(HttpClient http, Guid id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/jobs/{id}");
        using var response = await http.SendAsync(request);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString()!;
    }

    private static async Task<int> Queued(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/jobs?status=queued&limit=100");
        using var response = await http.SendAsync(request);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").GetArrayLength();
    }
}
