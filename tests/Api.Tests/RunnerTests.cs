using System.Net;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>Jobs really run: the in-process runner takes them, runs their handler and records what happens.</summary>
public sealed class RunnerTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_transcode_runs_to_completion_reporting_progress_after_each_step()
    {
        var id = await _client.SubmitTranscode(steps: 3, stepMs: 20);

        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        var events = await stream.ReadToEnd();

        Assert.Equal(["queued", "processing", "progress", "progress", "progress", "completed"], events.Select(e => e.Event));
        Assert.Equal([33, 66, 100], events.Where(e => e.Event == "progress").Select(e => e.Json.GetProperty("percent").GetInt32()));
        var result = await (await _client.GetAsync($"/jobs/{id}/result")).Json();
        Assert.Equal(("movie.mp4", 3), (result.Str("output"), result.GetProperty("segments").GetInt32()));
    }

    [Fact]
    public async Task Reports_made_together_keep_every_percent_in_order_and_the_last_commits_with_the_outcome_and_the_lease_going()
    {
        var id = await _client.SubmitTranscode(steps: 100, stepMs: 0);

        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        var events = await stream.ReadToEnd();

        Assert.Equal(Enumerable.Range(1, 100), events.Where(e => e.Event == "progress").Select(e => e.Json.GetProperty("percent").GetInt32()));
        Assert.Equal("completed", events[^1].Event);
        // One transaction (xmin) for the last report and the outcome, and the lease was given up in it: none is left once the client sees the end.
        Assert.Equal(1L, await api.Database.Scalar<long>(
            "SELECT count(DISTINCT xmin::text) FROM jobs.mt_events WHERE stream_id = $1 AND (type = 'job.completed' OR data ->> 'percent' = '100')", id));
        Assert.Equal(0L, await api.Database.Scalar<long>("SELECT count(*) FROM jobs.job_leases WHERE job_id = $1", id));
    }

    [Fact]
    public async Task A_report_produces_a_csv_that_the_result_url_returns()
    {
        var accepted = await _client.PostJson("/reports", """{"reportType":"quarterly","year":2025}""", Guid.NewGuid().ToString());
        var id = (await accepted.Json()).Str("jobId");

        await using (var stream = await SseStream.Open(_client, $"/jobs/{id}/events"))
            Assert.Equal("completed", (await stream.ReadToEnd())[^1].Event);

        var result = await _client.GetAsync($"/jobs/{id}/result");
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal("text/csv", result.Content.Headers.ContentType?.MediaType);
        var lines = (await result.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("period,orders,revenue", lines[0]);
        Assert.Equal(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"], lines.Skip(1).Select(l => l.Split(',')[0]));
    }

    [Fact]
    public async Task Cancelling_a_running_job_stops_its_handler_and_the_job_ends_cancelled()
    {
        var id = await _client.SubmitTranscode(steps: 100, stepMs: 50);
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        while ((await stream.Next())!.Event != "progress")
        {
        }

        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/jobs/{id}/cancel", null)).StatusCode);
        var rest = await stream.ReadToEnd();

        Assert.Equal("cancelled", rest[^1].Event);
        var job = await (await _client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal("cancelled", job.Str("status"));
        Assert.True(job.GetProperty("progress").GetInt32() < 100);
    }

    [Fact]
    public async Task Many_jobs_submitted_at_once_all_complete()
    {
        var ids = await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => _client.SubmitTranscode(steps: 2, stepMs: 5)));

        foreach (var id in ids)
        {
            await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
            Assert.Equal("completed", (await stream.ReadToEnd())[^1].Event);
        }
        Assert.Equal(25L, await api.Database.Scalar<long>(
            "SELECT count(*) FROM jobs.mt_events WHERE type = 'job.started' AND stream_id = ANY($1)", ids));
    }
}
