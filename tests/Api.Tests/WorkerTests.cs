using System.Net;
using System.Text.Json;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>The API with a job type only external workers run ("thumbnail"), and its own runner on.</summary>
public sealed class ApiWithExternalWorkers : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        ["Jobs:Types:thumbnail:External"] = "true",
        ["Jobs:Types:thumbnail:BackoffBase"] = "00:00:00.050",
        ["Jobs:Types:thumbnail:BackoffCap"] = "00:00:00.100",
    };
}

/// <summary>A worker in any language: claim over HTTP, then report with the lease token.</summary>
public sealed class WorkerTests(ApiWithExternalWorkers api) : IClassFixture<ApiWithExternalWorkers>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_worker_claims_a_job_reports_progress_keeps_its_lease_and_completes_it()
    {
        var id = await Submit();

        var work = await Claim();
        Assert.Equal((id.ToString(), "thumbnail", 1, "default"), (work.Str("jobId"), work.Str("type"), work.GetProperty("attempt").GetInt32(), work.Str("tenantId")));
        Assert.Equal("img-1", work.GetProperty("input").Str("fileId"));
        var token = work.Str("leaseToken");

        var progress = await Post(work.GetProperty("links").Str("progress"), new { leaseToken = token, percent = 50, message = "resizing" });
        Assert.Equal(HttpStatusCode.OK, progress.StatusCode);
        var heartbeat = await Post($"/jobs/{id}/heartbeat", new { leaseToken = token, leaseSeconds = 120 });
        var renewed = await heartbeat.Json();
        Assert.False(renewed.GetProperty("cancellationRequested").GetBoolean());
        Assert.True(renewed.GetProperty("leaseExpiresAt").GetDateTimeOffset() > work.GetProperty("leaseExpiresAt").GetDateTimeOffset());

        var completed = await Post($"/jobs/{id}/complete", new { leaseToken = token, result = new { url = "https://cdn.example/img-1.png" } });
        Assert.Equal("completed", (await completed.Json()).Str("status"));

        Assert.Equal("https://cdn.example/img-1.png", (await (await _client.GetAsync($"/jobs/{id}/result")).Json()).Str("url"));
        var history = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        Assert.Equal("worker:thumbnailer-1", history.GetProperty("events")[2].GetProperty("metadata").Str("actor"));
        // The attempt is over: its token no longer speaks for the job.
        Assert.Equal("lease_not_held", (await (await Post($"/jobs/{id}/progress", new { leaseToken = token, percent = 60 })).Json()).Str("code"));
    }

    [Fact]
    public async Task With_no_work_a_claim_is_204_and_a_waiting_claim_gets_a_job_submitted_meanwhile()
    {
        Assert.Equal(HttpStatusCode.NoContent, (await ClaimResponse()).StatusCode);

        var waiting = ClaimResponse(wait: 30);
        await Task.Delay(300);
        var id = await Submit();
        var work = await (await waiting).Json();

        Assert.Equal(id.ToString(), work.Str("jobId"));
    }

    [Fact]
    public async Task A_wrong_or_expired_token_is_409_and_appends_nothing()
    {
        var id = await Submit();
        var work = await Claim();
        var version = await Version(id);

        var wrong = await Post($"/jobs/{id}/progress", new { leaseToken = Guid.NewGuid(), percent = 10 });
        Assert.Equal(HttpStatusCode.Conflict, wrong.StatusCode);
        Assert.Equal("lease_not_held", (await wrong.Json()).Str("code"));

        await api.Database.Execute("UPDATE job_leases SET expires_at = now() - interval '1 second' WHERE job_id = $1", id);
        var token = work.Str("leaseToken");
        foreach (var (path, body) in new (string, object)[] { ("progress", new { leaseToken = token, percent = 10 }), ("complete", new { leaseToken = token, result = new { } }), ("heartbeat", new { leaseToken = token }) })
        {
            var expired = await Post($"/jobs/{id}/{path}", body);
            Assert.Equal(HttpStatusCode.Conflict, expired.StatusCode);
            Assert.Equal("lease_expired", (await expired.Json()).Str("code"));
        }
        Assert.Equal(version, await Version(id));
    }

    [Fact]
    public async Task A_failed_attempt_is_retried_and_an_error_not_worth_retrying_makes_a_dead_letter()
    {
        var id = await Submit();
        var first = await Claim();
        var failed = await (await Post($"/jobs/{id}/fail", new { leaseToken = first.Str("leaseToken"), errorCode = "cdn_down", errorMessage = "The CDN did not answer." })).Json();
        Assert.Equal("queued", failed.Str("status"));
        var status = await (await _client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal(("cdn_down", true), (status.GetProperty("error").Str("code"), status.TryGetProperty("nextAttemptAt", out _)));

        var second = await Eventually.Get(() => ClaimOrNull(), w => w is not null, "the retry to be due");
        Assert.Equal(2, second!.Value.GetProperty("attempt").GetInt32());
        var dead = await (await Post($"/jobs/{id}/fail",
            new { leaseToken = second.Value.Str("leaseToken"), errorCode = "bad_image", errorMessage = "Not an image.", retryable = false })).Json();
        Assert.Equal("failed", dead.Str("status"));

        var letters = await (await _client.GetAsync("/dead-letters?limit=200")).Json();
        Assert.Contains(letters.GetProperty("items").EnumerateArray(), l => l.Str("jobId") == id.ToString() && l.GetProperty("error").Str("code") == "bad_image");
    }

    [Fact]
    public async Task A_worker_learns_of_a_cancellation_from_its_heartbeat_and_releasing_the_job_cancels_it()
    {
        var id = await Submit();
        var work = await Claim();
        await _client.PostAsync($"/jobs/{id}/cancel", null);

        var heartbeat = await (await Post($"/jobs/{id}/heartbeat", new { leaseToken = work.Str("leaseToken") })).Json();
        Assert.True(heartbeat.GetProperty("cancellationRequested").GetBoolean());

        var released = await (await Post($"/jobs/{id}/release", new { leaseToken = work.Str("leaseToken") })).Json();
        Assert.Equal("cancelled", released.Str("status"));
        Assert.Equal("cancelled", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Fact]
    public async Task A_job_released_without_a_cancellation_is_queued_again_at_once()
    {
        var id = await Submit();
        var work = await Claim();

        var released = await (await Post($"/jobs/{id}/release", new { leaseToken = work.Str("leaseToken"), reason = "worker restarting" })).Json();

        Assert.Equal("queued", released.Str("status"));
        var again = await Claim();
        Assert.Equal((id.ToString(), 2), (again.Str("jobId"), again.GetProperty("attempt").GetInt32()));
    }

    [Theory]
    [InlineData("""{"types":["paint"]}""", "types[0]")]
    [InlineData("""{"types":[]}""", "types")]
    [InlineData("""{"types":["thumbnail"],"leaseSeconds":1}""", "leaseSeconds")]
    public async Task A_claim_that_makes_no_sense_is_400(string body, string field)
    {
        var response = await _client.PostAsync("/workers/claims", new StringContent(body, null, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task A_report_without_its_lease_token_is_400()
    {
        var response = await Post($"/jobs/{Guid.NewGuid()}/progress", new { percent = 10 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty("leaseToken", out _));
    }

    private async Task<Guid> Submit()
    {
        var response = await _client.PostJson("/jobs", """{"type":"thumbnail","input":{"fileId":"img-1"}}""", Guid.NewGuid().ToString());
        response.EnsureSuccessStatusCode();
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    private Task<HttpResponseMessage> ClaimResponse(int? wait = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/workers/claims")
        {
            Content = new StringContent("""{"types":["thumbnail"],"leaseSeconds":60,"worker":"thumbnailer-1"}""", null, "application/json"),
        };
        if (wait is not null)
            request.Headers.Add("Prefer", $"wait={wait}");
        return _client.SendAsync(request);
    }

    private async Task<JsonElement?> ClaimOrNull()
    {
        var response = await ClaimResponse();
        return response.StatusCode == HttpStatusCode.OK ? await response.Json() : null;
    }

    private async Task<JsonElement> Claim() => (await Eventually.Get(ClaimOrNull, w => w is not null, "a job to claim"))!.Value;

    private Task<HttpResponseMessage> Post(string path, object body) =>
        _client.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), null, "application/json"));

    private Task<long> Version(Guid id) => api.Database.Scalar<long>("SELECT version FROM streams WHERE id = $1", id);
}
