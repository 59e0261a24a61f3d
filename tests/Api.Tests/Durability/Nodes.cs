using EventSourced.Domain.Jobs;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests.Durability;

/// <summary>
/// Nodes of one cluster: test hosts (the service plus the flaky and hang job types) on one database,
/// with short leases and backoffs, so that failures play out in seconds.
/// </summary>
public static class Nodes
{
    public static Task<ApiProcess> Start(string connectionString, string name, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connectionString,
            ["Runner__WorkerName"] = name,
            ["Runner__LeaseDuration"] = "00:00:02",
            ["Runner__PollInterval"] = "00:00:00.200",
            ["Runner__DrainTimeout"] = "00:00:01",
            ["Jobs__Defaults__BackoffBase"] = "00:00:00.200",
            ["Jobs__Defaults__BackoffCap"] = "00:00:02",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in settings)
            all[key] = value;
        return ApiProcess.StartHealthy(all, host: Host.TestHost);
    }

    public static HttpClient Client(this ApiProcess node) => new() { BaseAddress = node.BaseAddress };

    /// <summary>A job's events, read straight from the database the nodes share.</summary>
    public static async Task<List<JobEvent>> History(string connectionString, Guid jobId)
    {
        using var store = JobStoreProcess.On(connectionString);
        return [.. await store.Events(jobId)];
    }

    public static async Task<Guid> Submit(this HttpClient client, string type, string input, string? extra = null)
    {
        var response = await client.PostJson("/jobs", $$$"""{"type":"{{{type}}}","input":{{{input}}}{{{extra}}}}""", Guid.NewGuid().ToString());
        response.EnsureSuccessStatusCode();
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    public static Task<string> Status(this HttpClient client, Guid jobId) =>
        Eventually.Get(async () => (await (await client.GetAsync($"/jobs/{jobId}")).Json()).Str("status"), _ => true, "the status");

    public static Task WaitForStatus(this HttpClient client, Guid jobId, string status, TimeSpan? timeout = null) =>
        Eventually.Get(() => client.Status(jobId), s => s == status, $"job {jobId} to be {status}", timeout ?? TimeSpan.FromSeconds(60));
}
