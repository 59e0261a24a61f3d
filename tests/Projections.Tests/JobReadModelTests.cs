using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Projections.Tests;

public sealed class JobReadModelTests(JobsDatabase db) : IClassFixture<JobsDatabase>
{
    private static readonly JsonElement Result = JsonDocument.Parse("""{"output":"f.mp4"}""").RootElement;

    [Fact]
    public async Task The_status_row_follows_every_event_in_the_appending_transaction()
    {
        var id = await db.Submit();
        var queries = new JobQueries(db.DataSource);
        Assert.Equal(JobStatus.Queued, (await queries.Status(id, Tenants.Default, default))!.Status);

        await db.Execute(id, new StartJob("node-a"));
        await db.Execute(id, a => new ReportProgress(a, 30, "a third"));
        var running = (await queries.Status(id, Tenants.Default, default))!;
        Assert.Equal((JobStatus.Processing, 30, "a third", 3L), (running.Status, running.Progress, running.Message, running.Version));

        await db.Execute(id, a => new CompleteJob(a, Result, "application/json"));
        Assert.Equal(JobStatus.Completed, (await queries.Status(id, Tenants.Default, default))!.Status);
        Assert.Equal(new JobResult("application/json", """{"output": "f.mp4"}"""), await queries.Result(id, default));
    }

    [Fact]
    public async Task A_job_is_invisible_to_another_tenant()
    {
        var id = await db.Submit(tenant: "acme");
        var queries = new JobQueries(db.DataSource);
        Assert.NotNull(await queries.Status(id, "acme", default));
        Assert.Null(await queries.Status(id, "globex", default));
    }

    [Fact]
    public async Task Concurrent_status_lookups_each_answer_for_their_own_job_and_tenant()
    {
        var jobs = new List<(Guid Id, string Tenant)>();
        for (var i = 0; i < 20; i++)
        {
            var tenant = i % 2 == 0 ? "acme" : "globex";
            jobs.Add((await db.Submit(tenant: tenant), tenant));
        }
        var queries = new JobQueries(db.DataSource);

        var lookups = Enumerable.Range(0, 200).Select(async n =>
        {
            var (id, tenant) = jobs[n % jobs.Count];
            var asking = n % 3 == 0 ? (tenant == "acme" ? "globex" : "acme") : tenant;
            return (id, tenant, asking, row: await queries.Status(id, asking, default));
        });

        foreach (var (id, tenant, asking, row) in await Task.WhenAll(lookups))
        {
            if (asking == tenant)
                Assert.Equal((id, tenant), (row!.Id, row.TenantId));
            else
                Assert.Null(row);
        }
    }

    [Fact]
    public async Task A_text_result_comes_back_as_its_text()
    {
        var id = await db.Submit("report");
        await db.Execute(id, new StartJob("node-a"));
        await db.Execute(id, a => new CompleteJob(a, JsonSerializer.SerializeToElement("a,b\n1,2\n"), "text/csv"));
        Assert.Equal(new JobResult("text/csv", "a,b\n1,2\n"), await new JobQueries(db.DataSource).Result(id, default));
    }

    [Fact]
    public async Task Rebuilding_the_job_read_models_from_the_events_gives_the_rows_kept_inline()
    {
        for (var i = 0; i < 12; i++)
        {
            var id = await db.Submit(i % 2 == 0 ? "transcode" : "report");
            if (i % 4 == 0)
                continue;
            await db.Execute(id, new StartJob("node-a"));
            await db.Execute(id, a => new ReportProgress(a, i * 5, $"step {i}"));
            await db.Execute(id, a => (i % 4) switch
            {
                1 => new CompleteJob(a, Result, "application/json"),
                2 => new FailAttempt(a, "boom", "It broke.", JobsDatabase.QuickBackoff, 0.5),
                _ => new CancelJob("not needed"),
            });
        }
        var inline = await Snapshot();

        await db.Execute("UPDATE job_status SET progress = 0, status = 'queued'");
        await db.Execute("DELETE FROM job_results");
        foreach (var projection in db.Store.Projections)
            await db.Store.Rebuild(projection, batchSize: 10);

        Assert.Equal(inline, await Snapshot());
    }

    private async Task<string> Snapshot() =>
        await db.Scalar<string>("SELECT coalesce(jsonb_agg(to_jsonb(j) ORDER BY id)::text, '') FROM job_status j") + " | "
        + await db.Scalar<string>("SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY job_id)::text, '') FROM job_results r");
}
