using EventSourced.Domain.Jobs;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests.Durability;

/// <summary>
/// Nodes of one cluster: test hosts (the service plus the flaky and hang job types) on one database,
/// with short leases and backoffs, so that failures play out in seconds.
/// </summary>
public static class Nodes
{
    /// <summary>For a test of a node that dies: its jobs' leases run out, and another node takes them, within seconds.</summary>
    public static readonly (string, string) ShortLease = ("Runner__LeaseDuration", "00:00:05");

    public static Task<ApiProcess> Start(string connectionString, string name, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connectionString,
            ["Runner__WorkerName"] = name,
            // Long, so that a busy machine's late renewals start no job twice; a test of what happens when a lease runs
            // out names a short one (ShortLease).
            ["Runner__LeaseDuration"] = "00:01:00",
            ["Runner__PollInterval"] = "00:00:00.200",
            ["Runner__DrainTimeout"] = "00:00:01",
            ["Jobs__Defaults__BackoffBase"] = "00:00:00.200",
            ["Jobs__Defaults__BackoffCap"] = "00:00:02",
            ["Logging__LogLevel__Default"] = "Information",
            // These tests are about failures, not keys: the nodes trust the tenant headers a gateway would set.
            ["Access__TrustGatewayHeaders"] = "true",
            ["Access__RequestsPerSecond"] = "1000000",
            ["Access__Burst"] = "1000000",
        };
        foreach (var (key, value) in settings)
            all[key] = value;
        return ApiProcess.StartHealthy(all, host: Host.TestHost);
    }

    /// <summary>A client as a gateway in front of the nodes would pass it on: tenant default, every role (its answers checked against the document).</summary>
    public static HttpClient Client(this ApiProcess node)
    {
        var client = node.CreateClient();
        client.DefaultRequestHeaders.Add("X-Tenant-Id", "default");
        client.DefaultRequestHeaders.Add("X-Roles", "client,worker,auditor,admin");
        return client;
    }

    /// <summary>A client with a key made by the operator's command, `./run keys create`: tenant default, every role.</summary>
    public static async Task<HttpClient> ClientWithKey(this ApiProcess node, IDictionary<string, string?> settings)
    {
        var (exitCode, output) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "default", "--role", "client,worker,auditor,admin", "--job-types", "*");
        Assert.True(exitCode == 0, output);
        var client = node.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", output.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal)));
        return client;
    }

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
        Eventually.Get(() => client.Status(jobId), s => s == status, $"job {jobId} to be {status}", timeout ?? Patience.Bound);
}
