using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Alba;
using EventSourced.Api.Access;
using EventSourced.EventStore;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

/// <summary>GET /jobs/{id}, its result, its history and cancelling it, with the job moved on step by step.</summary>
public sealed class JobResourceTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();
    private static readonly JsonElement Output = JsonDocument.Parse("""{"output":"movie.mp4"}""").RootElement;

    [Fact]
    public async Task The_status_of_a_running_job_says_where_it_stands_and_when_to_ask_again()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new ReportProgress(1, 40, "encoding"));

        var response = await api.Scenario(s =>
        {
            s.Get.Url($"/jobs/{id}");
            s.StatusCodeShouldBeOk();
            s.Header("ETag").SingleValueShouldEqual("\"3\"");
            s.Header("Cache-Control").SingleValueShouldEqual("no-store");
            s.Header("Retry-After").SingleValueShouldEqual("1");
        });

        var job = await response.ReadAsJsonAsync<JsonElement>();
        Assert.Equal((id.ToString(), "transcode", "processing", 40, "encoding", 1, 3, 3),
            (job.Str("jobId"), job.Str("type"), job.Str("status"), job.GetProperty("progress").GetInt32(), job.Str("message"),
             job.GetProperty("attempt").GetInt32(), job.GetProperty("maxAttempts").GetInt32(), job.GetProperty("version").GetInt32()));
        Assert.False(job.TryGetProperty("resultUrl", out _));
        Assert.False(job.TryGetProperty("completedAt", out _));
        Assert.False(job.TryGetProperty("finishedAt", out _));
    }

    [Fact]
    public async Task A_finished_job_links_its_result_and_needs_no_retry_after()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new CompleteJob(1, Output, "application/json"));

        var response = await _client.GetAsync($"/jobs/{id}");
        var job = await response.Json();

        Assert.Equal(("completed", 100, $"http://localhost/jobs/{id}/result"), (job.Str("status"), job.GetProperty("progress").GetInt32(), job.Str("resultUrl")));
        Assert.Equal(job.Str("finishedAt"), job.Str("completedAt"));
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task A_job_that_ended_otherwise_has_an_end_time_but_no_completion_time()
    {
        var cancelled = await _client.SubmitTranscode();
        await _client.PostAsync($"/jobs/{cancelled}/cancel", null);
        var failed = await _client.SubmitTranscode();
        await api.Drive(failed, new StartJob("node-a"));
        await api.Drive(failed, new FailAttempt(1, "boom", "It broke.", 0, Retryable: false));

        foreach (var id in new[] { cancelled, failed })
        {
            var job = await (await _client.GetAsync($"/jobs/{id}")).Json();
            Assert.True(job.TryGetProperty("finishedAt", out _));
            Assert.False(job.TryGetProperty("completedAt", out _));
        }
    }

    [Fact]
    public async Task A_replayed_submission_of_a_finished_job_says_where_the_job_stands()
    {
        var accepted = await _client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"again"}}""", "replayed-after-cancel");
        var id = (await accepted.Json()).Str("jobId");
        await _client.PostAsync($"/jobs/{id}/cancel", null);

        var replayed = await _client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"again"}}""", "replayed-after-cancel");

        Assert.Equal(HttpStatusCode.Accepted, replayed.StatusCode);
        var body = await replayed.Json();
        Assert.Equal(("cancelled", id), (body.Str("status"), body.Str("jobId")));
        Assert.Null(replayed.Headers.RetryAfter);
    }

    [Fact]
    public async Task A_failed_job_says_why()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new FailAttempt(1, "codec_missing", "No H.265 encoder.", 0, Retryable: false));

        var job = await (await _client.GetAsync($"/jobs/{id}")).Json();

        Assert.Equal("failed", job.Str("status"));
        Assert.Equal(("codec_missing", "No H.265 encoder."), (job.GetProperty("error").Str("code"), job.GetProperty("error").Str("message")));
    }

    [Fact]
    public async Task Polling_with_the_etag_costs_a_304_until_the_job_moves()
    {
        var id = await _client.SubmitTranscode();
        var first = await (await _client.GetAsync($"/jobs/{id}")).Json();
        var etag = $"\"{first.GetProperty("version").GetInt64()}\"";

        await api.Scenario(s =>
        {
            s.Get.Url($"/jobs/{id}").Etag(etag);
            s.StatusCodeShouldBe(HttpStatusCode.NotModified);
        });

        await api.Drive(id, new StartJob("node-a"));
        await api.Scenario(s =>
        {
            s.Get.Url($"/jobs/{id}").Etag(etag);
            s.StatusCodeShouldBeOk();
            s.Header("ETag").SingleValueShouldEqual("\"2\"");
        });
    }

    [Theory]
    [InlineData("/jobs/{0}")]
    [InlineData("/jobs/{0}/result")]
    [InlineData("/jobs/{0}/history")]
    [InlineData("/jobs/{0}/events")]
    public async Task An_unknown_job_is_404_problem(string path)
    {
        var response = await _client.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("job_not_found", (await response.Json()).Str("code"));
    }

    [Theory]
    [InlineData("GET", "/jobs/not-a-guid", HttpStatusCode.NotFound, "not_found")]
    [InlineData("GET", "/jobs/not-a-guid/events", HttpStatusCode.NotFound, "not_found")]
    [InlineData("DELETE", "/jobs", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("GET", "/jobs/00000000-0000-0000-0000-000000000000/cancel", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    public async Task Errors_answered_before_any_endpoint_runs_are_problems_with_a_code_even_to_an_event_source(
        string method, string path, HttpStatusCode status, string code)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Accept.ParseAdd("text/event-stream");

        var response = await _client.SendAsync(request);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Json();
        Assert.Equal(code, problem.Str("code"));
        Assert.Contains("/openapi/v1.json", problem.Str("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_result_is_409_with_the_status_until_the_job_completes_then_the_result_itself()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));

        var early = await _client.GetAsync($"/jobs/{id}/result");
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        var problem = await early.Json();
        Assert.Equal(("job_not_completed", "processing"), (problem.Str("code"), problem.Str("jobStatus")));

        await api.Drive(id, new CompleteJob(1, Output, "application/json"));
        var result = await _client.GetAsync($"/jobs/{id}/result");
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal("application/json", result.Content.Headers.ContentType?.MediaType);
        Assert.Equal("movie.mp4", (await result.Json()).Str("output"));
    }

    [Fact]
    public async Task Cancelling_a_queued_job_cancels_it_at_once()
    {
        var id = await _client.SubmitTranscode();

        var response = await _client.PostAsync($"/jobs/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"http://localhost/jobs/{id}", response.Headers.Location?.ToString());
        var body = await response.Json();
        Assert.Equal(("cancelled", "\"3\""), (body.Str("status"), response.Headers.ETag?.ToString()));
        Assert.Equal("cancelled", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
        // Asking again is harmless.
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/jobs/{id}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task Cancelling_a_running_job_asks_its_runner_to_stop_and_keeps_the_reason()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));

        var response = await _client.PostAsync($"/jobs/{id}/cancel", new StringContent("""{"reason":"user closed the app"}""", null, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Json();
        Assert.Equal(("processing", true), (body.Str("status"), body.GetProperty("cancellationRequested").GetBoolean()));
        var history = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        Assert.Equal("user closed the app", history.GetProperty("events")[2].GetProperty("data").Str("reason"));
    }

    [Fact]
    public async Task A_finished_job_cannot_be_cancelled()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new CompleteJob(1, Output, "application/json"));

        var response = await _client.PostAsync($"/jobs/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("job_already_finished", (await response.Json()).Str("code"));
        Assert.Equal("completed", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Fact]
    public async Task Cancelling_with_if_match_succeeds_at_the_current_version_and_is_412_at_an_old_one()
    {
        var id = await _client.SubmitTranscode();
        var seen = (await _client.GetAsync($"/jobs/{id}")).Headers.ETag!;
        await api.Drive(id, new StartJob("node-a"));

        var stale = await Post($"/jobs/{id}/cancel", r => r.Headers.IfMatch.Add(seen));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        var problem = await stale.Json();
        Assert.Equal(("version_mismatch", 2), (problem.Str("code"), problem.GetProperty("currentVersion").GetInt32()));
        Assert.False((await (await _client.GetAsync($"/jobs/{id}")).Json()).GetProperty("cancellationRequested").GetBoolean());

        var current = await Post($"/jobs/{id}/cancel", r => r.Headers.IfMatch.Add(new EntityTagHeaderValue("\"2\"")));
        Assert.Equal(HttpStatusCode.Accepted, current.StatusCode);

        var nonsense = await Post($"/jobs/{id}/cancel", r => r.Headers.TryAddWithoutValidation("If-Match", "\"latest\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, nonsense.StatusCode);
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("1")]
    [InlineData("\"1")]
    public async Task An_if_match_that_is_not_an_entity_tag_is_400_and_cancels_nothing(string ifMatch)
    {
        var id = await _client.SubmitTranscode();

        var response = await Post($"/jobs/{id}/cancel", r => r.Headers.TryAddWithoutValidation("If-Match", ifMatch));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_if_match", (await response.Json()).Str("code"));
        Assert.Equal("queued", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Theory]
    [InlineData("cancel", "null")]
    [InlineData("retry", "null")]
    [InlineData("cancel", "\"stop\"")]
    [InlineData("cancel", """{"reason":"nul \u0000"}""")]
    public async Task A_body_that_is_not_a_reason_object_is_400_and_changes_nothing(string action, string body)
    {
        var id = await _client.SubmitTranscode();

        var response = await _client.PostAsync($"/jobs/{id}/{action}", new StringContent(body, null, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("validation_failed", (await response.Json()).Str("code"));
        Assert.Equal(1, (await (await _client.GetAsync($"/jobs/{id}")).Json()).GetProperty("version").GetInt32());
    }

    [Theory]
    [InlineData("limit=0", "invalid_limit")]
    [InlineData("limit=abc", "invalid_limit")]
    [InlineData("after=garbage!", "invalid_cursor")]
    // A cursor of the right shape whose time is negative ticks: "-1:<id>", base64url.
    [InlineData("after=LTE6MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA", "invalid_cursor")]
    // And one a tick past the largest date there is: "3155378976000000000:<id>".
    [InlineData("after=MzE1NTM3ODk3NjAwMDAwMDAwMDowMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA", "invalid_cursor")]
    public async Task A_dead_letters_query_that_makes_no_sense_is_400_with_a_code(string query, string code)
    {
        var response = await _client.GetAsync($"/dead-letters?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(code, (await response.Json()).Str("code"));
    }

    [Fact]
    public async Task Cancelling_with_a_reason_that_is_too_long_is_400()
    {
        var id = await _client.SubmitTranscode();
        var response = await _client.PostAsync($"/jobs/{id}/cancel", new StringContent($$"""{"reason":"{{new string('r', 501)}}"}""", null, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("queued", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Fact]
    public async Task An_auditor_reads_every_event_with_its_metadata_and_the_history_as_of_a_version()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new ReportProgress(1, 50, "half"));

        var history = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        var events = history.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(["job.submitted", "job.started", "job.progressed"], events.Select(e => e.Str("type")));
        Assert.Equal([1, 2, 3], events.Select(e => e.GetProperty("version").GetInt32()));
        Assert.Equal(events.Select(e => e.GetProperty("seq").GetInt64()).Order(), events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal("movie", events[0].GetProperty("data").GetProperty("input").Str("fileId"));
        // The key that submitted it, by its id (esk_{id}_{secret}), as ./run keys list shows it.
        Assert.Equal($"key:{api.Key(Tenants.Default, Roles.All)[4..16]}", events[0].GetProperty("metadata").Str("actor"));
        Assert.Equal("test", events[1].GetProperty("metadata").Str("actor"));

        var asOf = await (await _client.GetAsync($"/jobs/{id}/history?version=2")).Json();
        Assert.Equal(2, asOf.GetProperty("events").GetArrayLength());
        var asOfMoment = await (await _client.GetAsync($"/jobs/{id}/history?at={Uri.EscapeDataString(events[1].Str("timestamp"))}")).Json();
        Assert.Equal(2, asOfMoment.GetProperty("events").GetArrayLength());
    }

    private Task<HttpResponseMessage> Post(string path, Action<HttpRequestMessage> configure)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        configure(request);
        return _client.SendAsync(request);
    }
}
