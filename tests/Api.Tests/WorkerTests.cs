using System.Net;
using System.Text.Json;
using EventSourced.Api.Access;
using EventSourced.EventStore;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// The API with job types only external workers run, and its own runner on. Each test works with a type of
/// its own, so that no test claims a job another one submitted.
/// </summary>
public sealed class ApiWithExternalWorkers : ApiFixture
{
    public static readonly string[] ExternalTypes =
    [
        "thumbnail", "slow-worker", "rare", "token-check", "flaky-cdn", "cancelled-while-working", "handed-back", "null-body", "long-lease",
        "unsafe-result", "bad-content-type", "csv-as-object", "moved-routes", "redriven", "redrive-bounds",
    ];

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>(
        ExternalTypes.Select(type => KeyValuePair.Create($"Jobs:Types:{type}:External", (string?)"true")))
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        ["Jobs:Defaults:BackoffBase"] = "00:00:00.050",
        ["Jobs:Defaults:BackoffCap"] = "00:00:00.100",
    };
}

/// <summary>A worker in any language: claim over HTTP, then report with the lease token.</summary>
public sealed class WorkerTests(ApiWithExternalWorkers api) : IClassFixture<ApiWithExternalWorkers>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_worker_claims_a_job_reports_progress_keeps_its_lease_and_completes_it()
    {
        var id = await Submit("thumbnail");

        var work = await Claim("thumbnail");
        Assert.Equal((id.ToString(), "thumbnail", 1, "default"), (work.Str("jobId"), work.Str("type"), work.GetProperty("attempt").GetInt32(), work.Str("tenantId")));
        Assert.Equal("img-1", work.GetProperty("input").Str("fileId"));
        var token = work.Str("leaseToken");

        var progress = await Post(work.GetProperty("links").Str("progress"), new { leaseToken = token, percent = 50, message = "resizing" });
        Assert.Equal(HttpStatusCode.OK, progress.StatusCode);
        var heartbeat = await Post($"/workers/jobs/{id}/heartbeat", new { leaseToken = token, leaseSeconds = 120 });
        var renewed = await heartbeat.Json();
        Assert.False(renewed.GetProperty("cancellationRequested").GetBoolean());
        Assert.True(renewed.GetProperty("leaseExpiresAt").GetDateTimeOffset() > work.GetProperty("leaseExpiresAt").GetDateTimeOffset());

        var completed = await Post($"/workers/jobs/{id}/complete", new { leaseToken = token, result = new { url = "https://cdn.example/img-1.png" } });
        Assert.Equal("completed", (await completed.Json()).Str("status"));

        Assert.Equal("https://cdn.example/img-1.png", (await (await _client.GetAsync($"/jobs/{id}/result")).Json()).Str("url"));
        var history = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        // Every event the worker caused, its claim too, names the key it acted with; the worker's own name is in the claim.
        var keyId = $"key:{api.Key(Tenants.Default, Roles.All)[4..16]}";
        var events = history.GetProperty("events").EnumerateArray().ToList();
        Assert.All(events.Skip(1), e => Assert.Equal(keyId, e.GetProperty("metadata").Str("actor")));
        Assert.Equal("thumbnailer-1", events[1].GetProperty("data").Str("worker"));
        Assert.Single(events.Select(e => e.GetProperty("metadata").Str("correlationId")).Distinct());
        // The attempt is over: its token no longer speaks for the job.
        Assert.Equal("lease_not_held", (await (await Post($"/workers/jobs/{id}/progress", new { leaseToken = token, percent = 60 })).Json()).Str("code"));
    }

    [Fact]
    public async Task A_job_waiting_for_an_external_worker_asks_clients_to_poll_less_often()
    {
        var accepted = await _client.PostJson("/jobs", """{"type":"slow-worker","input":{"fileId":"img-slow"}}""", Guid.NewGuid().ToString());
        var id = (await accepted.Json()).Str("jobId");

        Assert.Equal(TimeSpan.FromSeconds(5), accepted.Headers.RetryAfter?.Delta);
        Assert.Equal(TimeSpan.FromSeconds(5), (await _client.GetAsync($"/jobs/{id}")).Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task With_no_work_a_claim_is_204_and_a_waiting_claim_gets_a_job_submitted_meanwhile()
    {
        Assert.Equal(HttpStatusCode.NoContent, (await ClaimResponse("rare")).StatusCode);

        var waiting = ClaimResponse("rare", wait: 30);
        await Task.Delay(300);
        var id = await Submit("rare");
        var work = await (await waiting).Json();

        Assert.Equal(id.ToString(), work.Str("jobId"));
    }

    [Theory]
    [InlineData("wait=soon")]
    [InlineData("wait=-1")]
    [InlineData("wait=1.5")]
    public async Task A_claim_whose_wait_is_not_a_whole_number_of_seconds_is_refused_as_a_long_poll_is(string prefer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/workers/claims")
        {
            Content = new StringContent("""{"types":["rare"],"leaseSeconds":60}""", null, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Prefer", prefer);

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_prefer_wait", (await response.Json()).Str("code"));
    }

    [Fact]
    public async Task A_wrong_or_expired_token_is_409_and_appends_nothing()
    {
        var id = await Submit("token-check");
        var work = await Claim("token-check");
        var version = await Version(id);

        var wrong = await Post($"/workers/jobs/{id}/progress", new { leaseToken = Guid.NewGuid(), percent = 10 });
        Assert.Equal(HttpStatusCode.Conflict, wrong.StatusCode);
        Assert.Equal("lease_not_held", (await wrong.Json()).Str("code"));

        await api.Database.Execute("UPDATE jobs.job_leases SET expires_at = now() - interval '1 second' WHERE job_id = $1", id);
        var token = work.Str("leaseToken");
        foreach (var (path, body) in new (string, object)[] { ("progress", new { leaseToken = token, percent = 10 }), ("complete", new { leaseToken = token, result = new { } }), ("heartbeat", new { leaseToken = token }) })
        {
            var expired = await Post($"/workers/jobs/{id}/{path}", body);
            Assert.Equal(HttpStatusCode.Conflict, expired.StatusCode);
            Assert.Equal("lease_expired", (await expired.Json()).Str("code"));
        }
        Assert.Equal(version, await Version(id));
    }

    [Fact]
    public async Task A_failed_attempt_is_retried_and_an_error_not_worth_retrying_makes_a_dead_letter()
    {
        var id = await Submit("flaky-cdn");
        var first = await Claim("flaky-cdn");
        var failed = await (await Post($"/workers/jobs/{id}/fail", new { leaseToken = first.Str("leaseToken"), errorCode = "cdn_down", errorMessage = "The CDN did not answer." })).Json();
        Assert.Equal("queued", failed.Str("status"));
        var status = await (await _client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal(("cdn_down", true), (status.GetProperty("error").Str("code"), status.TryGetProperty("nextAttemptAt", out _)));

        var second = await Eventually.Get(() => ClaimOrNull("flaky-cdn"), w => w is not null, "the retry to be due");
        Assert.Equal(2, second!.Value.GetProperty("attempt").GetInt32());
        var dead = await (await Post($"/workers/jobs/{id}/fail",
            new { leaseToken = second.Value.Str("leaseToken"), errorCode = "bad_image", errorMessage = "Not an image.", retryable = false })).Json();
        Assert.Equal("failed", dead.Str("status"));

        var letters = await (await _client.GetAsync("/dead-letters?limit=200")).Json();
        Assert.Contains(letters.GetProperty("items").EnumerateArray(), l => l.Str("jobId") == id.ToString() && l.GetProperty("error").Str("code") == "bad_image");
    }

    [Fact]
    public async Task A_worker_learns_of_a_cancellation_from_its_heartbeat_and_releasing_the_job_cancels_it()
    {
        var id = await Submit("cancelled-while-working");
        var work = await Claim("cancelled-while-working");
        await _client.PostAsync($"/jobs/{id}/cancel", null);

        var heartbeat = await (await Post($"/workers/jobs/{id}/heartbeat", new { leaseToken = work.Str("leaseToken") })).Json();
        Assert.True(heartbeat.GetProperty("cancellationRequested").GetBoolean());

        var released = await (await Post($"/workers/jobs/{id}/release", new { leaseToken = work.Str("leaseToken") })).Json();
        Assert.Equal("cancelled", released.Str("status"));
        Assert.Equal("cancelled", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Fact]
    public async Task A_job_released_without_a_cancellation_is_queued_again_at_once()
    {
        var id = await Submit("handed-back");
        var work = await Claim("handed-back");

        var released = await (await Post($"/workers/jobs/{id}/release", new { leaseToken = work.Str("leaseToken"), reason = "worker restarting" })).Json();

        Assert.Equal("queued", released.Str("status"));
        var again = await Claim("handed-back");
        Assert.Equal((id.ToString(), 2), (again.Str("jobId"), again.GetProperty("attempt").GetInt32()));
    }

    [Theory]
    [InlineData("""{"types":["paint"]}""", "types[0]", "Unknown job type 'paint'. The types are: bad-content-type, cancelled-while-working, csv-as-object, flaky-cdn, handed-back, long-lease, moved-routes, null-body, payment, rare, redrive-bounds, redriven, report, slow-worker, thumbnail, token-check, transcode, unsafe-result.")]
    [InlineData("""{"types":[]}""", "types", "'types' must name the job types this worker runs.")]
    [InlineData("""{"types":["thumbnail"],"leaseSeconds":1}""", "leaseSeconds", "'leaseSeconds' must be between 5 and 3600. You entered 1.")]
    [InlineData("""{"types":["thumbnail","transcode"]}""", "types[1]", "'transcode' is run by the service itself; workers claim only external types: bad-content-type, cancelled-while-working, csv-as-object, flaky-cdn, handed-back, long-lease, moved-routes, null-body, rare, redrive-bounds, redriven, slow-worker, thumbnail, token-check, unsafe-result.")]
    [InlineData("null", "$", "Must be a JSON object.")]
    [InlineData("""{"types":["thumbnail"],"leaseSeconds":"60"}""", "leaseSeconds", "Must be a whole number.")]
    public async Task A_claim_that_makes_no_sense_is_400(string body, string field, string message)
    {
        var response = await _client.PostAsync("/workers/claims", new StringContent(body, null, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(message, (await response.Json()).GetProperty("errors").GetProperty(field)[0].GetString());
    }

    [Theory]
    [InlineData("heartbeat")]
    [InlineData("progress")]
    [InlineData("complete")]
    [InlineData("fail")]
    [InlineData("release")]
    public async Task A_null_body_on_a_worker_call_is_400_and_appends_nothing(string action)
    {
        var id = await Submit("null-body");
        await Claim("null-body");
        var version = await Version(id);

        var response = await _client.PostAsync($"/workers/jobs/{id}/{action}", new StringContent("null", null, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("validation_failed", (await response.Json()).Str("code"));
        Assert.Equal(version, await Version(id));
    }

    [Fact]
    public async Task A_lease_token_that_is_not_a_uuid_is_400_and_says_what_it_must_be()
    {
        var response = await Post($"/workers/jobs/{Guid.NewGuid()}/heartbeat", new { leaseToken = "5f0c..." });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("Must be a UUID", (await response.Json()).GetProperty("errors").GetProperty("leaseToken")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_heartbeat_that_names_no_length_keeps_the_length_the_claim_asked_for()
    {
        var id = await Submit("long-lease");
        var work = await Claim("long-lease", leaseSeconds: 600);

        var renewed = await (await Post($"/workers/jobs/{id}/heartbeat", new { leaseToken = work.Str("leaseToken") })).Json();

        Assert.InRange(renewed.GetProperty("leaseExpiresAt").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
    }

    [Theory]
    [InlineData("text/html", true)]
    [InlineData("image/svg+xml", true)]
    [InlineData("text/csv", false)]
    [InlineData("application/vnd.example+json", false)]
    public async Task A_result_in_a_type_a_browser_would_run_is_served_as_an_attachment_never_sniffed(string contentType, bool attachment)
    {
        var id = await Submit("unsafe-result");
        var work = await Claim("unsafe-result");
        var body = contentType.EndsWith("json", StringComparison.Ordinal) ? (object)new { ok = true } : "<script>alert(1)</script>";
        await Post($"/workers/jobs/{id}/complete", new { leaseToken = work.Str("leaseToken"), result = body, contentType });

        var result = await _client.GetAsync($"/jobs/{id}/result");

        Assert.Equal(contentType, result.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", Assert.Single(result.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal(attachment, result.Content.Headers.ContentDisposition?.DispositionType == "attachment");
    }

    [Fact]
    public async Task A_result_content_type_that_is_not_a_media_type_is_400()
    {
        var id = await Submit("bad-content-type");
        var work = await Claim("bad-content-type");

        var response = await Post($"/workers/jobs/{id}/complete", new { leaseToken = work.Str("leaseToken"), result = "x", contentType = "html" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty("contentType", out _));
        Assert.Equal("processing", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Fact]
    public async Task A_result_that_is_not_json_must_come_as_a_string_of_its_text()
    {
        var id = await Submit("csv-as-object");
        var work = await Claim("csv-as-object");

        var response = await Post($"/workers/jobs/{id}/complete", new { leaseToken = work.Str("leaseToken"), result = new { a = 1 }, contentType = "text/csv" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty("result", out _));
        Assert.Equal("processing", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Fact]
    public async Task Worker_calls_live_under_workers_not_beside_the_tenants_job_routes()
    {
        var id = await Submit("moved-routes");
        var work = await Claim("moved-routes");

        var old = await Post($"/jobs/{id}/progress", new { leaseToken = work.Str("leaseToken"), percent = 10 });

        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Post(work.GetProperty("links").Str("progress"), new { leaseToken = work.Str("leaseToken"), percent = 10 })).StatusCode);
    }

    [Fact]
    public async Task A_report_without_its_lease_token_is_400()
    {
        var response = await Post($"/workers/jobs/{Guid.NewGuid()}/progress", new { percent = 10 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty("leaseToken", out _));
    }

    [Fact]
    public async Task A_redrive_may_give_a_job_a_new_time_out_and_number_of_attempts_which_its_next_claims_get()
    {
        var accepted = await _client.PostJson("/jobs", """{"type":"redriven","input":{"fileId":"img-r"},"maxAttempts":1,"timeoutSeconds":30}""", Guid.NewGuid().ToString());
        var id = (await accepted.Json()).GetProperty("jobId").GetGuid();
        var first = await Claim("redriven");
        Assert.Equal(30, first.GetProperty("timeoutSeconds").GetInt32());
        await Post($"/workers/jobs/{id}/fail", new { leaseToken = first.Str("leaseToken"), errorCode = "timeout", errorMessage = "Too slow for 30 s." });
        Assert.Equal("failed", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));

        var redrive = await Post($"/jobs/{id}/retry", new { reason = "give it longer", timeoutSeconds = 600, maxAttempts = 2 });

        Assert.Equal(HttpStatusCode.Accepted, redrive.StatusCode);
        // Two more attempts after the one made.
        Assert.Equal(3, (await redrive.Json()).GetProperty("maxAttempts").GetInt32());
        var second = await Claim("redriven");
        Assert.Equal((2, 600), (second.GetProperty("attempt").GetInt32(), second.GetProperty("timeoutSeconds").GetInt32()));
        await Post($"/workers/jobs/{id}/fail", new { leaseToken = second.Str("leaseToken"), errorCode = "timeout", errorMessage = "Still too slow." });
        Assert.Equal(600, (await Claim("redriven")).GetProperty("timeoutSeconds").GetInt32());
        var redriven = (await (await _client.GetAsync($"/jobs/{id}/history")).Json()).GetProperty("events").EnumerateArray()
            .Single(e => e.Str("type") == "job.redriven").GetProperty("data");
        Assert.Equal((600, 2), (redriven.GetProperty("timeoutSeconds").GetInt32(), redriven.GetProperty("maxAttempts").GetInt32()));
    }

    [Theory]
    [InlineData("""{"maxAttempts":0}""", "maxAttempts", "'maxAttempts' must be between 1 and 100. You entered 0.")]
    [InlineData("""{"timeoutSeconds":604801}""", "timeoutSeconds", "'timeoutSeconds' must be between 1 and 604800. You entered 604801.")]
    [InlineData("""{"timeoutSeconds":"60"}""", "timeoutSeconds", "Must be a whole number.")]
    public async Task A_redrive_is_bounded_as_a_submission_is_and_a_refused_one_changes_nothing(string body, string field, string message)
    {
        var id = await Submit("redrive-bounds");
        var work = await Claim("redrive-bounds");
        await Post($"/workers/jobs/{id}/fail", new { leaseToken = work.Str("leaseToken"), errorCode = "bad_input", errorMessage = "No.", retryable = false });
        var version = await Version(id);

        var response = await _client.PostAsync($"/jobs/{id}/retry", new StringContent(body, null, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(message, (await response.Json()).GetProperty("errors").GetProperty(field)[0].GetString());
        Assert.Equal(version, await Version(id));
    }

    private async Task<Guid> Submit(string type)
    {
        var response = await _client.PostJson("/jobs", $$$"""{"type":"{{{type}}}","input":{"fileId":"img-1"}}""", Guid.NewGuid().ToString());
        response.EnsureSuccessStatusCode();
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    private Task<HttpResponseMessage> ClaimResponse(string type, int? wait = null, int leaseSeconds = 60)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/workers/claims")
        {
            Content = new StringContent($$"""{"types":["{{type}}"],"leaseSeconds":{{leaseSeconds}},"worker":"thumbnailer-1"}""", null, "application/json"),
        };
        if (wait is not null)
            request.Headers.Add("Prefer", $"wait={wait}");
        return _client.SendAsync(request);
    }

    private async Task<JsonElement?> ClaimOrNull(string type, int leaseSeconds = 60)
    {
        var response = await ClaimResponse(type, leaseSeconds: leaseSeconds);
        return response.StatusCode == HttpStatusCode.OK ? await response.Json() : null;
    }

    private async Task<JsonElement> Claim(string type, int leaseSeconds = 60) =>
        (await Eventually.Get(() => ClaimOrNull(type, leaseSeconds), w => w is not null, "a job to claim"))!.Value;

    private Task<HttpResponseMessage> Post(string path, object body) =>
        _client.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), null, "application/json"));

    private Task<long> Version(Guid id) => api.Database.Scalar<long>("SELECT version FROM jobs.mt_streams WHERE id = $1", id);
}
