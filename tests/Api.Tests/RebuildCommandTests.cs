using EventSourced.Api.Tests.Durability;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>`./run projections rebuild|verify`: an operator rebuilds or checks the read models while the service runs.</summary>
public sealed class RebuildCommandTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    private Dictionary<string, string?> Settings => new() { ["DATABASE_URL"] = db.ConnectionString, ["Logging__LogLevel__Default"] = "Warning" };

    [Fact]
    public async Task Rebuilding_repairs_a_damaged_status_read_model_under_a_running_service()
    {
        await using var node = await ApiProcess.StartHealthy(Settings);
        using var client = await node.ClientWithKey(Settings);
        var id = await client.Submit("transcode", """{"fileId":"rebuilt","steps":2,"stepMs":0}""");
        await client.WaitForStatus(id, "completed");
        await db.Execute("""
            UPDATE jobs.mt_doc_job_status
            SET data = jsonb_set(jsonb_set(data, '{state,status}', '"Failed"'), '{error}', '{"code":"damaged","message":"damaged"}')
            WHERE id = $1
            """, id);
        Assert.Equal("failed", await client.Status(id));

        var (verified, found) = await ApiProcess.RunCommand(Settings, "projections", "verify", "job_status");
        Assert.True(verified == 1, found);
        Assert.Contains($"job_status: DIFFERENT (1 rows live, 1 rebuilt)", found);
        Assert.Contains($"job {id}: live ", found);

        var (exitCode, output) = await ApiProcess.RunCommand(Settings, "projections", "rebuild", "job_status");

        Assert.True(exitCode == 0, output);
        Assert.Contains("job_status: 5 events folded", output);
        Assert.Contains("swapped in", output);
        var status = await (await client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal(("completed", 100), (status.Str("status"), status.GetProperty("progress").GetInt32()));
        Assert.False(status.TryGetProperty("error", out _));
        var (equal, report) = await ApiProcess.RunCommand(Settings, "projections", "verify");
        Assert.True(equal == 0, report);
        Assert.Contains("job_status: equal (1 rows live, 1 rebuilt)", report);
    }

    [Fact]
    public async Task An_unknown_projection_name_is_refused_with_the_names_there_are()
    {
        var (exitCode, output) = await ApiProcess.RunCommand(Settings, "projections", "rebuild", "job_statistics");

        Assert.Equal(2, exitCode);
        Assert.Contains("No projection is called job_statistics. There are: job_status, job_results, job_stats.", output);
    }
}

/// <summary>`./run projections verify` on a live system: a job that moves while it runs is no difference.</summary>
public sealed class VerifyWhileJobsRunTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    // Four clients submit as fast as they can: past the default request rate of a key.
    private Dictionary<string, string?> Settings => new()
    {
        ["DATABASE_URL"] = db.ConnectionString, ["Logging__LogLevel__Default"] = "Warning",
        ["Access__RequestsPerSecond"] = "1000000", ["Access__Burst"] = "1000000",
    };

    [Fact]
    public async Task Verifying_while_jobs_are_submitted_and_run_throughout_finds_every_read_model_equal()
    {
        await using var node = await ApiProcess.StartHealthy(Settings);
        using var client = await node.ClientWithKey(Settings);
        using var stop = new CancellationTokenSource();
        var submitted = 0;
        var traffic = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                await client.Submit("transcode", """{"fileId":"moving","steps":3,"stepMs":5}""");
                Interlocked.Increment(ref submitted);
            }
        }));
        const string Completed = "SELECT count(*) FROM jobs.mt_doc_job_status WHERE status = 'Completed'";
        await Eventually.Get(() => db.Scalar<long>(Completed), done => done >= 20, "the runner to complete 20 jobs");
        var (submittedBefore, completedBefore) = (Volatile.Read(ref submitted), await db.Scalar<long>(Completed));

        var (exitCode, report) = await ApiProcess.RunCommand(Settings, "projections", "verify");

        var (submittedAfter, completedAfter) = (Volatile.Read(ref submitted), await db.Scalar<long>(Completed));
        await stop.CancelAsync();
        await traffic;
        Assert.True(submittedAfter > submittedBefore && completedAfter > completedBefore,
            $"jobs must move while verify runs: {submittedBefore} -> {submittedAfter} submitted, {completedBefore} -> {completedAfter} completed");
        Assert.True(exitCode == 0, report);
        foreach (var name in (string[])["job_status", "job_results", "job_stats"])
            Assert.Contains($"{name}: equal", report);
    }
}

/// <summary>`./run projections rebuild|verify job_stats`: the statistics, kept by Marten's daemon on a running node.</summary>
public sealed class StatsRebuildTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    private Dictionary<string, string?> Settings => new()
    {
        ["DATABASE_URL"] = db.ConnectionString, ["Logging__LogLevel__Default"] = "Warning",
        ["Jobs__ExpireAfter"] = "00:00:01", ["Jobs__AuditRetention"] = "00:00:01", ["Jobs__ArchiveEvery"] = "00:00:00.200",
    };

    [Fact]
    public async Task Rebuilding_the_statistics_repairs_them_keeps_archived_jobs_and_the_daemon_goes_on_into_the_new_table()
    {
        var settings = Settings;
        await using var node = await ApiProcess.StartHealthy(settings);
        using var client = await node.ClientWithKey(settings);
        var archived = await client.Submit("transcode", """{"fileId":"archived","steps":1,"stepMs":0}""");
        await client.WaitForStatus(archived, "completed");
        await Eventually.Get(() => client.GetAsync($"/jobs/{archived}/history"), r => r.StatusCode == System.Net.HttpStatusCode.Gone, "the job to be archived");
        var cancelled = await client.Submit("transcode", """{"fileId":"cancelled","steps":1,"stepMs":60000}""");
        (await client.PostAsync($"/jobs/{cancelled}/cancel", null)).EnsureSuccessStatusCode();
        await WaitForStats(client, completed: 1, cancelled: 1);
        await db.Execute("UPDATE jobs.job_stats_jobs SET outcome = 'failed' WHERE job_id = $1", archived);
        await WaitForStats(client, completed: 0, cancelled: 1);

        var (verified, found) = await ApiProcess.RunCommand(settings, "projections", "verify", "job_stats");
        Assert.True(verified == 1, found);
        Assert.Contains($"job_stats: DIFFERENT (2 rows live, 2 rebuilt)", found);
        Assert.Contains($"job {archived}: live ", found);

        var (exitCode, output) = await ApiProcess.RunCommand(settings, "projections", "rebuild", "job_stats");

        Assert.True(exitCode == 0, output);
        Assert.Contains("swapped in", output);
        // The archived job counts again, as it did before the damage, and the daemon keeps the new table.
        await WaitForStats(client, completed: 1, cancelled: 1);
        var next = await client.Submit("transcode", """{"fileId":"after","steps":1,"stepMs":0}""");
        await client.WaitForStatus(next, "completed");
        await WaitForStats(client, completed: 2, cancelled: 1);
        var (equal, report) = await ApiProcess.RunCommand(settings, "projections", "verify", "job_stats");
        Assert.True(equal == 0, report);
        Assert.Contains("job_stats: equal (3 rows live, 3 rebuilt)", report);
    }

    private static Task WaitForStats(HttpClient client, long completed, long cancelled) => Eventually.Get(
        async () => await (await client.GetAsync("/stats")).Json(),
        s => s.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("completed").GetInt64()) == completed
            && s.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("cancelled").GetInt64()) == cancelled,
        $"the stats to count {completed} completed and {cancelled} cancelled");
}
