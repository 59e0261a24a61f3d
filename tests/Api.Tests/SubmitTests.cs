using System.Net;
using System.Text;

namespace EventSourced.Api.Tests;

public sealed class SubmitTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();
    private const string Transcode = """{"type":"transcode","input":{"fileId":"movie-1","steps":4}}""";

    [Fact]
    public async Task Submitting_work_answers_202_with_where_to_follow_the_job()
    {
        var response = await _client.PostJson("/jobs", Transcode, "submit-1");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Json();
        var jobId = body.GetProperty("jobId").GetGuid();
        Assert.Equal($"http://localhost/jobs/{jobId}", response.Headers.Location?.ToString());
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Equal(("queued", $"http://localhost/jobs/{jobId}"), (body.Str("status"), body.Str("statusUrl")));
        Assert.StartsWith($"http://localhost/jobs/{jobId}/events?access_token=", body.Str("eventsUrl"), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("queued", (await (await _client.GetAsync($"/jobs/{jobId}")).Json()).Str("status"));
    }

    [Fact]
    public async Task A_retry_with_the_same_key_and_body_returns_the_same_job_marked_as_replayed()
    {
        var first = await _client.PostJson("/jobs", Transcode, "submit-2");
        // The same request, its keys in another order and spaced differently.
        var retry = await _client.PostJson("/jobs", """{ "input": { "steps": 4, "fileId": "movie-1" },  "type": "transcode" }""", "submit-2");

        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal("true", Assert.Single(retry.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_refused_with_422_and_changes_nothing()
    {
        var first = await (await _client.PostJson("/jobs", Transcode, "submit-3")).Json();
        var versionBefore = (await (await _client.GetAsync($"/jobs/{first.Str("jobId")}")).Json()).GetProperty("version").GetInt64();

        var reused = await _client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"another-movie"}}""", "submit-3");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Equal("application/problem+json", reused.Content.Headers.ContentType?.MediaType);
        var problem = await reused.Json();
        Assert.Equal(("idempotency_key_reused", first.Str("jobId")), (problem.Str("code"), problem.Str("jobId")));
        var after = await (await _client.GetAsync($"/jobs/{first.Str("jobId")}")).Json();
        Assert.Equal(versionBefore, after.GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Twenty_concurrent_duplicates_make_one_job_and_all_get_its_id()
    {
        var streamsBefore = await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => _client.PostJson("/jobs", Transcode, "submit-race")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        var ids = await Task.WhenAll(responses.Select(async r => (await r.Json()).Str("jobId")));
        Assert.Single(ids.Distinct());
        Assert.Single(responses, r => !r.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(streamsBefore + 1, await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'"));
    }

    [Fact]
    public async Task Each_job_type_has_its_own_route_whose_body_is_the_input()
    {
        var transcode = await _client.PostJson("/transcodes", """{"fileId":"movie-1","steps":4}""", "submit-typed-1");
        var report = await _client.PostJson("/reports", """{"reportType":"annual","year":2025}""", "submit-typed-2");

        Assert.Equal(HttpStatusCode.Accepted, transcode.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, report.StatusCode);
        var job = await (await _client.GetAsync(report.Headers.Location)).Json();
        Assert.Equal("report", job.Str("type"));
        // The typed route is the generic one with the type filled in: the same key and input is the same job.
        var same = await _client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"movie-1","steps":4}}""", "submit-typed-1");
        Assert.Equal("true", Assert.Single(same.Headers.GetValues("Idempotent-Replayed")));
    }

    [Fact]
    public async Task The_same_key_in_two_tenants_makes_two_jobs_each_seen_only_by_its_tenant()
    {
        var acme = await (await api.ClientFor("acme").PostJson("/jobs", Transcode, "shared-key")).Json();
        var globex = await (await api.ClientFor("globex").PostJson("/jobs", Transcode, "shared-key")).Json();

        Assert.NotEqual(acme.Str("jobId"), globex.Str("jobId"));
        Assert.Equal(HttpStatusCode.NotFound, (await api.ClientFor("globex").GetAsync($"/jobs/{acme.Str("jobId")}")).StatusCode);
    }

    [Theory]
    [InlineData(null, "idempotency_key_missing")]
    [InlineData("  ", "idempotency_key_missing")]
    [InlineData("256", "idempotency_key_too_long")]
    public async Task A_missing_or_overlong_key_is_refused_with_400(string? key, string code)
    {
        var response = await _client.PostJson("/jobs", Transcode, key == "256" ? new string('k', 256) : key);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, (await response.Json()).Str("code"));
    }

    [Fact]
    public async Task A_key_of_255_characters_is_accepted()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostJson("/jobs", Transcode, new string('k', 255))).StatusCode);
    }

    [Theory]
    [InlineData("""{"type":"mine-coins","input":{}}""", "type", "Unknown job type 'mine-coins'. The types are: payment, report, transcode.")]
    [InlineData("""{"input":{"fileId":"x"}}""", "type", "'type' must not be empty.")]
    [InlineData("""{"type":"transcode","input":[1,2]}""", "input", "'input' must be a JSON object.")]
    [InlineData("""{"type":"transcode"}""", "input", "'input' must be a JSON object.")]
    [InlineData("""{"type":"transcode","input":{"steps":3}}""", "input.fileId", "'fileId' must not be empty.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x","steps":500}}""", "input.steps", "'steps' must be between 1 and 100. You entered 500.")]
    [InlineData("""{"type":"transcode","input":{"fileId":7}}""", "input.fileId", "Must be a string.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x","colour":"red"}}""", "input.colour", "Unknown field. The fields are: fileId, steps, stepMs.")]
    [InlineData("""{"type":"report","input":{"reportType":"weekly","year":2025}}""", "input.reportType", "'reportType' must be one of: annual, quarterly.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x"},"callbackUrl":"ftp://example.com/x"}""", "callbackUrl",
        "'callbackUrl' must be an absolute https URL without credentials (plain http only to the hosts in Webhooks:AllowedHosts).")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x"},"priority":1}""", "priority",
        "Unknown field. The fields are: type, input, callbackUrl, correlationId, maxAttempts, timeoutSeconds, callbackEvents.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x"},"maxAttempts":0}""", "maxAttempts", "'maxAttempts' must be between 1 and 100. You entered 0.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x"},"timeoutSeconds":0}""", "timeoutSeconds", "'timeoutSeconds' must be between 1 and 604800. You entered 0.")]
    [InlineData("""["transcode"]""", "$", "Must be a JSON object.")]
    public async Task Invalid_submissions_get_400_with_errors_per_field_and_change_nothing(string body, string field, string message)
    {
        var streamsBefore = await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'");

        var response = await _client.PostJson("/jobs", body, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Json();
        Assert.Equal("validation_failed", problem.Str("code"));
        Assert.Equal(message, problem.GetProperty("errors").GetProperty(field)[0].GetString());
        Assert.Equal(streamsBefore, await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'"));
    }

    [Theory]
    [InlineData("null", "$", "Must be a JSON object.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"a\u0000b"}}""", "input.fileId", "Must not contain the character U+0000: it cannot be stored.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x"},"correlationId":"c\u0000"}""", "correlationId", "Must not contain the character U+0000: it cannot be stored.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x","tags":[["ok","\u0000"]]}}""", "input.tags[0][1]", "Must not contain the character U+0000: it cannot be stored.")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x","steps":"4"}}""", "input.steps", "Must be a whole number.")]
    [InlineData("""{"Type":"transcode","input":{"fileId":"x"}}""", "Type", "Unknown field. The fields are: type, input, callbackUrl, correlationId, maxAttempts, timeoutSeconds, callbackEvents.")]
    [InlineData("""{"type":"transcode","input":{"FileId":"x"}}""", "input.FileId", "Unknown field. The fields are: fileId, steps, stepMs.")]
    public async Task A_body_the_service_cannot_take_as_it_is_gets_400_naming_the_field_and_changes_nothing(string body, string field, string message)
    {
        var streamsBefore = await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'");

        var response = await _client.PostJson("/jobs", body, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Json();
        Assert.Equal("validation_failed", problem.Str("code"));
        Assert.Equal(message, problem.GetProperty("errors").GetProperty(field)[0].GetString());
        Assert.Equal(streamsBefore, await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'"));
    }

    [Theory]
    [InlineData("/transcodes", """{"fileId":"\u0000"}""", "fileId", "Must not contain the character U+0000: it cannot be stored.")]
    [InlineData("/transcodes", """{"fileId":"x","steps":500}""", "steps", "'steps' must be between 1 and 100. You entered 500.")]
    [InlineData("/transcodes", """{"fileId":"x","colour":"red"}""", "colour", "Unknown field. The fields are: fileId, steps, stepMs.")]
    [InlineData("/reports", """{"reportType":"weekly","year":2025}""", "reportType", "'reportType' must be one of: annual, quarterly.")]
    [InlineData("/payments", """{"amount":1,"currency":"euro"}""", "currency", "'currency' must be an ISO 4217 code, such as EUR.")]
    [InlineData("/transcodes", """[1]""", "$", "Must be a JSON object.")]
    public async Task A_typed_routes_errors_are_keyed_by_the_bodys_own_paths(string route, string body, string field, string message)
    {
        var response = await _client.PostJson(route, body, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Json()).GetProperty("errors");
        Assert.Equal(message, errors.GetProperty(field)[0].GetString());
        Assert.Single(errors.EnumerateObject());
    }

    [Theory]
    [InlineData("/jobs", """{"type":"payment","input":{"currency":"EUR"}}""", "input.amount", "'amount' is required.")]
    [InlineData("/payments", """{"currency":"EUR"}""", "amount", "'amount' is required.")]
    public async Task A_missing_number_is_said_to_be_required_not_read_as_zero(string route, string body, string field, string message)
    {
        var response = await _client.PostJson(route, body, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(message, Assert.Single((await response.Json()).GetProperty("errors").GetProperty(field).EnumerateArray()).GetString());
    }

    [Fact]
    public async Task Malformed_json_is_400()
    {
        var response = await _client.PostJson("/jobs", """{"type":"transcode",""", "submit-malformed");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("malformed_json", (await response.Json()).Str("code"));
    }

    [Theory]
    [InlineData("""{"type":"transcode","input":{"fileId":"x",}}""", "line 1,")]
    [InlineData("{\n  \"type\": \"transcode\",\n  \"input\": {\"fileId\": x}\n}", "line 3,")]
    [InlineData("""{"type":"transcode" // a comment""", "line 1,")]
    public async Task Malformed_json_is_described_to_the_client_with_where_it_goes_wrong(string body, string where)
    {
        var response = await _client.PostJson("/jobs", body, Guid.NewGuid().ToString());

        var problem = await response.Json();
        Assert.Equal("malformed_json", problem.Str("code"));
        var detail = problem.Str("detail");
        Assert.Contains(where, detail, StringComparison.Ordinal);
        // Advice for the server's code (System.Text.Json's own words) is no use to a client.
        Assert.DoesNotContain("reader options", detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("LineNumber", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_over_one_mebibyte_is_413()
    {
        var huge = $$$"""{"type":"transcode","input":{"fileId":"{{{new string('x', 1024 * 1024)}}}"}}""";
        var response = await _client.PostJson("/jobs", huge, "submit-huge");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("body_too_large", (await response.Json()).Str("code"));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_415()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = new StringContent("fileId=movie-1", Encoding.UTF8, "application/x-www-form-urlencoded") };
        request.Headers.Add("Idempotency-Key", "submit-form");
        var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
