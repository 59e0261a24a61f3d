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
        var (exitCode, output) = await ApiProcess.RunCommand(Settings, "projections", "rebuild", "job_stats");

        Assert.Equal(2, exitCode);
        Assert.Contains("No projection is called job_stats. There are: job_status, job_results.", output);
    }
}
