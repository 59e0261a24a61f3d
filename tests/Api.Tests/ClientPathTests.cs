using System.Diagnostics;
using System.Net;
using System.Text.Json;
using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

/// <summary>The paths for clients that cannot hold a stream: a long poll on GET /jobs/{id}, and the status monitor.</summary>
public sealed class PollingTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();
    private static readonly JsonElement Output = JsonDocument.Parse("""{"output":"movie.mp4"}""").RootElement;

    private Task<HttpResponseMessage> Poll(Guid id, string etag, string prefer)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/jobs/{id}");
        request.Headers.TryAddWithoutValidation("If-None-Match", etag);
        request.Headers.TryAddWithoutValidation("Prefer", prefer);
        return _client.SendAsync(request);
    }

    [Fact]
    public async Task A_long_poll_is_answered_when_the_job_moves()
    {
        var id = await _client.SubmitTranscode();
        var poll = Poll(id, "\"1\"", "wait=30");
        await Task.Delay(300);
        Assert.False(poll.IsCompleted, "the poll was answered before the job moved");

        await api.Drive(id, new StartJob("node-a"));
        var response = await poll;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("wait=30", response.Headers.GetValues("Preference-Applied").Single());
        var job = await response.Json();
        Assert.Equal(("processing", "2"), (job.Str("status"), job.Str("version")));
        Assert.Equal("\"2\"", response.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task A_long_poll_on_a_job_that_does_not_move_ends_with_304_after_the_wait()
    {
        var id = await _client.SubmitTranscode();
        var clock = Stopwatch.StartNew();

        var response = await Poll(id, "\"1\"", "respond-async, wait=1");

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal("wait=1", response.Headers.GetValues("Preference-Applied").Single());
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"answered after {clock.Elapsed}, before the wait was over");
    }

    [Fact]
    public async Task A_long_poll_with_an_old_version_is_answered_at_once()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));

        var response = await Poll(id, "\"1\"", "wait=60");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Preference-Applied"));
    }

    [Theory]
    [InlineData("wait=abc")]
    [InlineData("wait=-1")]
    [InlineData("wait")]
    public async Task A_wait_that_is_not_a_number_of_seconds_is_refused(string prefer)
    {
        var id = await _client.SubmitTranscode();

        var response = await Poll(id, "\"1\"", prefer);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("invalid_prefer_wait", (await response.Json()).Str("code"));
    }

    [Fact]
    public async Task The_monitor_says_to_ask_again_while_the_job_runs_and_sends_the_client_to_the_result_when_it_completes()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new ReportProgress(1, 40, null));

        var running = await _client.GetAsync($"/jobs/{id}/status");
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), running.Headers.RetryAfter?.Delta);
        var body = await running.Json();
        Assert.Equal(("processing", 40), (body.Str("status"), body.GetProperty("progress").GetInt32()));

        await api.Drive(id, new CompleteJob(1, Output, "application/json"));
        var completed = await _client.GetAsync($"/jobs/{id}/status");
        Assert.Equal(HttpStatusCode.SeeOther, completed.StatusCode);
        Assert.Equal($"http://localhost/jobs/{id}/result", completed.Headers.Location?.ToString());
    }

    [Fact]
    public async Task The_monitor_of_a_failed_job_gives_the_error()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new FailAttempt(1, "corrupt_input", "The file is not a video.", Jitter: 0, Retryable: false));

        var response = await _client.GetAsync($"/jobs/{id}/status");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
        var body = await response.Json();
        Assert.Equal(("failed", "corrupt_input"), (body.Str("status"), body.GetProperty("error").Str("code")));
    }
}

/// <summary>The API with finished jobs expiring for clients after three seconds.</summary>
public sealed class ApiWithShortExpiry : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Jobs:ExpireAfter"] = "00:00:03",
    };
}

public sealed class ExpiryTests(ApiWithShortExpiry api) : IClassFixture<ApiWithShortExpiry>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_finished_job_is_gone_for_clients_after_its_time_but_its_history_stays_and_its_key_starts_a_new_job()
    {
        const string body = """{"type":"transcode","input":{"fileId":"movie"}}""";
        var key = Guid.NewGuid().ToString();
        var first = (await (await _client.PostJson("/jobs", body, key)).Json()).GetProperty("jobId").GetGuid();
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/jobs/{first}/cancel", null)).StatusCode);
        var replayed = await _client.PostJson("/jobs", body, key);
        Assert.Equal(first, (await replayed.Json()).GetProperty("jobId").GetGuid());

        var gone = await Eventually.Get(() => _client.GetAsync($"/jobs/{first}"), r => r.StatusCode == HttpStatusCode.Gone, "the job to expire");
        var problem = await gone.Json();
        Assert.Equal(("job_expired", $"http://localhost/jobs/{first}/history"), (problem.Str("code"), problem.Str("historyUrl")));
        foreach (var path in new[] { "status", "result", "events" })
            Assert.Equal(HttpStatusCode.Gone, (await _client.GetAsync($"/jobs/{first}/{path}")).StatusCode);
        var history = await (await _client.GetAsync($"/jobs/{first}/history")).Json();
        Assert.Equal(3, history.GetProperty("events").GetArrayLength());

        var again = await _client.PostJson("/jobs", body, key);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        var second = (await again.Json()).GetProperty("jobId").GetGuid();
        Assert.NotEqual(first, second);
        Assert.Equal("queued", (await (await _client.GetAsync($"/jobs/{second}")).Json()).Str("status"));
        Assert.Equal(second, (await (await _client.PostJson("/jobs", body, key)).Json()).GetProperty("jobId").GetGuid());
    }
}

public sealed class ApiWithShortRetention : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Jobs:ExpireAfter"] = "00:00:01",
        ["Jobs:AuditRetention"] = "00:00:02",
        ["Jobs:ArchiveEvery"] = "00:00:00.200",
    };
}

public sealed class AuditRetentionTests(ApiWithShortRetention api) : IClassFixture<ApiWithShortRetention>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_job_past_its_audit_retention_is_archived_readable_only_on_request_and_its_key_starts_a_new_job()
    {
        const string body = """{"type":"transcode","input":{"fileId":"movie"}}""";
        var key = Guid.NewGuid().ToString();
        var first = (await (await _client.PostJson("/jobs", body, key)).Json()).GetProperty("jobId").GetGuid();
        var running = (await (await _client.PostJson("/jobs", body, Guid.NewGuid().ToString())).Json()).GetProperty("jobId").GetGuid();
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/jobs/{first}/cancel", null)).StatusCode);

        var archived = await Eventually.Get(() => _client.GetAsync($"/jobs/{first}/history"), r => r.StatusCode == HttpStatusCode.Gone, "the history to be archived");

        Assert.Equal("job_archived", (await archived.Json()).Str("code"));
        var history = await (await _client.GetAsync($"/jobs/{first}/history?includeArchived=true")).Json();
        Assert.Equal(["job.submitted", "job.cancellation_requested", "job.cancelled"], history.GetProperty("events").EnumerateArray().Select(e => e.Str("type")));
        Assert.Equal("job_expired", (await (await _client.GetAsync($"/jobs/{first}")).Json()).Str("code"));
        // A job that has not finished is never archived, however old.
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/jobs/{running}/history")).StatusCode);

        var again = await _client.PostJson("/jobs", body, key);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.NotEqual(first, (await again.Json()).GetProperty("jobId").GetGuid());
    }
}
