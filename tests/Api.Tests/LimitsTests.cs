using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EventSourced.Api.Http;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>The API with no runner, so submitted jobs stay as they are, and a type external workers run, whose input is any JSON object.</summary>
public sealed class ApiForLimits : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Jobs:Types:thumbnail:External"] = "true",
    };
}

/// <summary>Each kind of limit: refused with a 4xx problem that names the limit, and nothing written.</summary>
public sealed class LimitsTests(ApiForLimits api) : IClassFixture<ApiForLimits>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_body_over_1_MiB_is_refused_with_413_and_nothing_is_written()
    {
        var key = NewKey();
        var response = await _client.PostJson("/jobs", Thumbnail($$"""{"blob":"{{new string('b', RequestLimits.MaxBodyBytes)}}"}"""), key);

        var problem = await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "body_too_large");
        Assert.Contains("1024 KiB", problem.Str("detail"), StringComparison.Ordinal);
        await AssertNoJob(key);
    }

    [Fact]
    public async Task JSON_nested_deeper_than_32_is_refused_with_400_json_too_deep_and_32_deep_is_accepted()
    {
        // The body is an object holding "input", an object holding "a": two levels before the arrays.
        static string Nested(int depth) => Thumbnail($$"""{"a":{{new string('[', depth - 2)}}1{{new string(']', depth - 2)}}}""");
        var key = NewKey();

        var response = await _client.PostJson("/jobs", Nested(RequestLimits.MaxJsonDepth + 1), key);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, "json_too_deep");
        Assert.Contains("32", problem.Str("detail"), StringComparison.Ordinal);
        await AssertNoJob(key);
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostJson("/jobs", Nested(RequestLimits.MaxJsonDepth), NewKey())).StatusCode);
    }

    [Theory]
    [InlineData("1e400")]
    [InlineData("-1.8e308")]
    [InlineData("1e131071")]
    [InlineData("0e-20000")]
    [InlineData("0.{100 digits}")]
    public async Task A_number_beyond_a_64_bit_float_or_too_long_is_refused_and_nothing_is_written(string number)
    {
        var key = NewKey();

        var response = await _client.PostJson("/jobs", Thumbnail($$"""{"n":[1,{{number.Replace("{100 digits}", new string('1', 100), StringComparison.Ordinal)}}]}"""), key);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.Contains("at most 100 characters", problem.GetProperty("errors").GetProperty("input.n[1]")[0].GetString(), StringComparison.Ordinal);
        await AssertNoJob(key);
    }

    [Fact]
    public async Task Numbers_a_64_bit_float_holds_are_accepted_as_sent()
    {
        var response = await _client.PostJson("/jobs", Thumbnail("""{"n":[1.7976931348623157e308,-0,0.0,0e-999,5e-324,1e-400,123456789012345678901234567890]}"""), NewKey());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await (await _client.GetAsync($"/jobs/{(await response.Json()).Str("jobId")}/history")).Json();
        Assert.Equal(7, job.GetProperty("events")[0].GetProperty("data").GetProperty("input").GetProperty("n").GetArrayLength());
    }

    [Fact]
    public async Task Text_that_is_not_Unicode_is_refused_and_nothing_is_written()
    {
        var (surrogate, bytes) = (NewKey(), NewKey());

        var loneSurrogate = await _client.PostJson("/jobs", Thumbnail("""{"name":"a\udc00b"}"""), surrogate);
        var content = new ByteArrayContent([.. Encoding.UTF8.GetBytes(Thumbnail("""{"name":"a""")), 0xff, 0xfe, .. "\"}}"u8]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var notUtf8 = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = content, Headers = { { "Idempotency-Key", bytes } } });

        var problem = await AssertProblem(loneSurrogate, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("input.name", out _));
        Assert.Equal("The body is not valid UTF-8.", (await AssertProblem(notUtf8, HttpStatusCode.BadRequest, "malformed_json")).Str("detail"));
        await AssertNoJob(surrogate);
        await AssertNoJob(bytes);
    }

    [Fact]
    public async Task Headers_over_16_KiB_in_all_are_refused_with_431_and_nothing_is_written()
    {
        var key = NewKey();
        var request = Submission(key);
        request.Headers.Add("X-Padding", new string('p', 8 * 1024));
        request.Headers.Add("X-More-Padding", new string('p', 8 * 1024));

        var response = await _client.SendAsync(request);

        var problem = await AssertProblem(response, HttpStatusCode.RequestHeaderFieldsTooLarge, "headers_too_large");
        Assert.Contains("16 KiB", problem.Str("detail"), StringComparison.Ordinal);
        await AssertNoJob(key);
        var below = Submission(NewKey());
        below.Headers.Add("X-Padding", new string('p', 15 * 1024));
        Assert.Equal(HttpStatusCode.Accepted, (await _client.SendAsync(below)).StatusCode);
    }

    [Fact]
    public async Task A_URL_over_8_KiB_is_refused_with_414_and_nothing_is_written()
    {
        var key = NewKey();

        var response = await _client.PostJson($"/jobs?padding={new string('p', RequestLimits.MaxUrlChars)}", Thumbnail("{}"), key);

        var problem = await AssertProblem(response, HttpStatusCode.RequestUriTooLong, "url_too_long");
        Assert.Contains("8 KiB", problem.Str("detail"), StringComparison.Ordinal);
        await AssertNoJob(key);
    }

    [Fact]
    public async Task On_the_real_server_headers_and_URLs_past_our_limits_but_within_Kestrels_get_our_problem()
    {
        await using var server = await ApiProcess.StartHealthy(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = api.Database.ConnectionString, ["Runner__Enabled"] = "false",
        });
        using var client = server.CreateClient();
        // Past Kestrel's own defaults too (32 KiB of headers, 8 KiB of request line), which it now leaves to us.
        var headers = new HttpRequestMessage(HttpMethod.Get, "/health") { Headers = { { "X-Padding", new string('p', 40 * 1024) } } };

        var tooManyHeaders = await client.SendAsync(headers);
        var tooLongUrl = await client.GetAsync($"/health?padding={new string('p', 12 * 1024)}");

        await AssertProblem(tooManyHeaders, HttpStatusCode.RequestHeaderFieldsTooLarge, "headers_too_large");
        await AssertProblem(tooLongUrl, HttpStatusCode.RequestUriTooLong, "url_too_long");
    }

    [Fact]
    public async Task An_Idempotency_Key_over_255_characters_is_refused_naming_its_limit_and_nothing_is_written()
    {
        var key = new string('k', RequestLimits.MaxIdempotencyKeyChars + 1);

        var response = await _client.PostJson("/jobs", Thumbnail("{}"), key);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, "idempotency_key_too_long");
        Assert.Contains("255", problem.Str("detail"), StringComparison.Ordinal);
        await AssertNoJob(key);
    }

    [Fact]
    public async Task A_credential_over_200_characters_is_refused_with_401_and_nothing_is_written()
    {
        var key = NewKey();
        var anonymous = api.Host.Server.CreateClient();
        var request = Submission(key);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "esk_" + new string('k', RequestLimits.MaxCredentialChars));
        var id = await _client.SubmitTranscode();

        var response = await anonymous.SendAsync(request);
        var token = await anonymous.GetAsync($"/jobs/{id}/events?access_token={new string('t', RequestLimits.MaxCredentialChars + 1)}");

        var problem = await AssertProblem(response, HttpStatusCode.Unauthorized, "credential_too_long");
        Assert.Contains("200 characters", problem.Str("detail"), StringComparison.Ordinal);
        await AssertNoJob(key);
        await AssertProblem(token, HttpStatusCode.Unauthorized, "credential_too_long");
    }

    /// <summary>{id} is a queued job's id; x201 stands for 201 x's.</summary>
    [Theory]
    [InlineData("/jobs", """{"type":"x201","input":{}}""", "type")]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"correlationId":"x201"}""", "correlationId")]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"callbackUrl":"https://example.com/x2000"}""", "callbackUrl")]
    [InlineData("/jobs/{id}/cancel", """{"reason":"x501"}""", "reason")]
    [InlineData("/jobs/{id}/retry", """{"reason":"x501"}""", "reason")]
    [InlineData("/workers/claims", """{"types":["thumbnail"],"worker":"x201"}""", "worker")]
    [InlineData("/workers/claims", """{"types":["x201"]}""", "types[0]")]
    [InlineData("/workers/jobs/{id}/progress", """{"leaseToken":"{token}","percent":1,"message":"x1001"}""", "message")]
    [InlineData("/workers/jobs/{id}/complete", """{"leaseToken":"{token}","result":"a","contentType":"text/x201"}""", "contentType")]
    [InlineData("/workers/jobs/{id}/fail", """{"leaseToken":"{token}","errorCode":"x101","errorMessage":"m"}""", "errorCode")]
    [InlineData("/workers/jobs/{id}/fail", """{"leaseToken":"{token}","errorCode":"c","errorMessage":"x4001"}""", "errorMessage")]
    [InlineData("/workers/jobs/{id}/release", """{"leaseToken":"{token}","reason":"x501"}""", "reason")]
    public async Task A_string_longer_than_its_limit_is_refused_naming_the_field_and_nothing_is_written(string path, string body, string field)
    {
        var (id, key) = await QueuedJob();

        var response = await _client.PostJson(path.Replace("{id}", id.ToString(), StringComparison.Ordinal), Expand(body), key);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, "validation_failed");
        var error = problem.GetProperty("errors").GetProperty(field)[0].GetString();
        Assert.Matches(@"\d+ characters or fewer", error);
        await AssertUnchanged(id, key);
    }

    [Theory]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"maxAttempts":101}""", "maxAttempts")]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"maxAttempts":0}""", "maxAttempts")]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"timeoutSeconds":604801}""", "timeoutSeconds")]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"maxAttempts":2147483648}""", "maxAttempts")]
    [InlineData("/workers/claims", """{"types":["thumbnail"],"leaseSeconds":3601}""", "leaseSeconds")]
    [InlineData("/workers/claims", """{"types":["thumbnail"],"leaseSeconds":4}""", "leaseSeconds")]
    [InlineData("/workers/jobs/{id}/heartbeat", """{"leaseToken":"{token}","leaseSeconds":3601}""", "leaseSeconds")]
    [InlineData("/workers/jobs/{id}/progress", """{"leaseToken":"{token}","percent":101}""", "percent")]
    [InlineData("/workers/jobs/{id}/progress", """{"leaseToken":"{token}","percent":-1}""", "percent")]
    public async Task A_number_outside_its_range_is_refused_naming_the_field_and_nothing_is_written(string path, string body, string field)
    {
        var (id, key) = await QueuedJob();

        var response = await _client.PostJson(path.Replace("{id}", id.ToString(), StringComparison.Ordinal), Expand(body), key);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        await AssertUnchanged(id, key);
    }

    [Theory]
    [InlineData("/jobs", """{"type":"thumbnail","input":{},"callbackUrl":"https://example.com","callbackEvents":[{101 events}]}""", "callbackEvents")]
    [InlineData("/workers/claims", """{"types":[{101 types}]}""", "types")]
    public async Task A_list_longer_than_100_is_refused_and_nothing_is_written(string path, string body, string field)
    {
        var (id, key) = await QueuedJob();

        var response = await _client.PostJson(path, body
            .Replace("{101 events}", string.Join(',', Enumerable.Repeat("\"completed\"", 101)), StringComparison.Ordinal)
            .Replace("{101 types}", string.Join(',', Enumerable.Repeat("\"thumbnail\"", 101)), StringComparison.Ordinal), key);

        var problem = await AssertProblem(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.Contains("at most 100", problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
        await AssertUnchanged(id, key);
    }

    [Theory]
    [InlineData("/jobs?limit=101", "validation_failed")]
    [InlineData("/jobs?type=x201", "validation_failed")]
    [InlineData("/jobs?correlationId=x201", "validation_failed")]
    [InlineData("/events?limit=1001", "validation_failed")]
    [InlineData("/events?correlationId=x201", "validation_failed")]
    [InlineData("/events?after=-1", "validation_failed")]
    [InlineData("/dead-letters?limit=201", "invalid_limit")]
    [InlineData("/jobs/{id}/history?version=0", "invalid_version")]
    [InlineData("/jobs/{id}?atVersion=99999999999999999999", "invalid_version")]
    [InlineData("/jobs/{id}/events?lastEventId=99999999999999999999", "invalid_last_event_id")]
    [InlineData("/stats?from=2020-01-01&to=2026-01-01", "validation_failed")]
    public async Task A_query_value_beyond_its_bounds_is_refused_with_400(string url, string code)
    {
        var (id, _) = await QueuedJob();

        var response = await _client.GetAsync(Expand(url.Replace("{id}", id.ToString(), StringComparison.Ordinal)));

        await AssertProblem(response, HttpStatusCode.BadRequest, code);
    }

    [Theory]
    [InlineData("GET", "/jobs/{id}", "Prefer", "wait=99999999999", "invalid_prefer_wait")]
    [InlineData("GET", "/jobs/{id}/events", "Last-Event-ID", "-1", "invalid_last_event_id")]
    [InlineData("POST", "/jobs/{id}/cancel", "If-Match", "\"99999999999999999999", "invalid_if_match")]
    public async Task A_header_value_beyond_its_bounds_is_refused_with_400_and_nothing_is_written(string method, string path, string header, string value, string code)
    {
        var (id, key) = await QueuedJob();
        var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{id}", id.ToString(), StringComparison.Ordinal));
        request.Headers.TryAddWithoutValidation(header, value);

        var response = await _client.SendAsync(request);

        await AssertProblem(response, HttpStatusCode.BadRequest, code);
        await AssertUnchanged(id, key);
    }

    private static string NewKey() => Guid.NewGuid().ToString();

    private static string Thumbnail(string input) => $$"""{"type":"thumbnail","input":{{input}}}""";

    private static HttpRequestMessage Submission(string key) => new(HttpMethod.Post, "/jobs")
    {
        Content = new StringContent(Thumbnail("{}"), Encoding.UTF8, "application/json"),
        Headers = { { "Idempotency-Key", key } },
    };

    /// <summary>"x201" becomes 201 x's; "{token}" a lease token (any: the body is refused before the lease is looked at).</summary>
    private static string Expand(string text) =>
        Regex.Replace(text.Replace("{token}", Guid.NewGuid().ToString(), StringComparison.Ordinal), "x([0-9]+)",
            m => new string('x', int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));

    /// <summary>A queued job, and a fresh key whose job does not exist yet.</summary>
    private async Task<(Guid Id, string Key)> QueuedJob()
    {
        var response = await _client.PostJson("/jobs", Thumbnail("{}"), NewKey());
        return ((await response.Json()).GetProperty("jobId").GetGuid(), NewKey());
    }

    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Json();
        Assert.Equal(code, problem.Str("code"));
        return problem;
    }

    /// <summary>The job a submission with <paramref name="key"/> would have made has no events.</summary>
    private async Task AssertNoJob(string key) => Assert.Empty(await api.Events(Idempotency.JobId(Tenants.Default, key)));

    /// <summary>The queued job is still only submitted, and the refused submission's key made no job.</summary>
    private async Task AssertUnchanged(Guid id, string key)
    {
        Assert.Equal(["job.submitted"], (await api.Events(id)).Select(e => e.EventTypeName));
        await AssertNoJob(key);
    }
}
