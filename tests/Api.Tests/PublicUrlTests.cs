using System.Net;
using EventSourced.Api.Tests.Durability;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>The API with the public base URL a proxy in front of it answers at.</summary>
public sealed class ApiBehindAProxy : ApiFixture
{
    public const string PublicBaseUrl = "https://jobs.example.com/api";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        ["Api:PublicBaseUrl"] = PublicBaseUrl + "/",
    };
}

/// <summary>
/// Every URL the API answers with is absolute, so a client uses it as it is: an EventSource outside a page of this origin
/// (Node, another origin) cannot resolve a relative one.
/// </summary>
public sealed class PublicUrlTests(ApiBehindAProxy api) : IClassFixture<ApiBehindAProxy>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task With_a_public_base_url_every_url_answered_starts_with_it()
    {
        const string Base = ApiBehindAProxy.PublicBaseUrl;
        var accepted = await _client.PostJson("/transcodes", """{"fileId":"proxied","steps":1,"stepMs":0}""", Guid.NewGuid().ToString());
        var body = await accepted.Json();
        var id = body.GetProperty("jobId").GetGuid();

        Assert.Equal($"{Base}/jobs/{id}", accepted.Headers.Location?.ToString());
        Assert.Equal($"{Base}/jobs/{id}", body.Str("statusUrl"));
        Assert.StartsWith($"{Base}/jobs/{id}/events?access_token=", body.Str("eventsUrl"), StringComparison.Ordinal);

        await _client.WaitForStatus(id, "completed");
        var job = await (await _client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal($"{Base}/jobs/{id}/result", job.Str("resultUrl"));
        Assert.StartsWith($"{Base}/jobs/{id}/events?access_token=", job.Str("eventsUrl"), StringComparison.Ordinal);
        Assert.Equal($"{Base}/jobs/{id}/result", (await _client.GetAsync($"/jobs/{id}/status")).Headers.Location?.ToString());
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        Assert.Equal($"{Base}/jobs/{id}/result", (await stream.ReadToEnd())[^1].Json.Str("resultUrl"));
        var page = await (await _client.GetAsync("/jobs?limit=1")).Json();
        Assert.StartsWith($"{Base}/jobs?", page.Str("next"), StringComparison.Ordinal);
        Assert.StartsWith($"{Base}/events?", (await (await _client.GetAsync("/events?limit=1")).Json()).Str("next"), StringComparison.Ordinal);
    }
}

/// <summary>Without a public base URL, the URLs answered are built from the request's own scheme and host.</summary>
public sealed class RequestHostUrlTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    [Fact]
    public async Task Without_a_public_base_url_the_urls_answered_are_the_requests_scheme_and_host()
    {
        var accepted = await api.CreateClient().PostJson("/transcodes", """{"fileId":"direct"}""", Guid.NewGuid().ToString());
        var body = await accepted.Json();
        var id = body.GetProperty("jobId").GetGuid();

        // The in-process test server answers as http://localhost.
        Assert.Equal($"http://localhost/jobs/{id}", accepted.Headers.Location?.ToString());
        Assert.Equal($"http://localhost/jobs/{id}", body.Str("statusUrl"));
        Assert.StartsWith($"http://localhost/jobs/{id}/events?access_token=", body.Str("eventsUrl"), StringComparison.Ordinal);
    }
}

/// <summary>The real server on a port of its own, followed as an EventSource outside a browser page follows it.</summary>
public sealed class EventSourceUrlTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task The_events_url_answered_opens_the_stream_as_it_is_from_a_client_with_no_base_address()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString };
        await using var server = await ApiProcess.StartHealthy(settings);
        using var client = await server.ClientWithKey(settings);
        var eventsUrl = (await (await client.PostJson("/transcodes", """{"fileId":"node-client","steps":2,"stepMs":10}""", "event-source-1")).Json()).Str("eventsUrl");

        // As Node's EventSource would: the URL as it came, no base address, no key (the token in the URL stands in for it).
        using var fresh = server.CreateClient();
        fresh.BaseAddress = null;
        await using var stream = await SseStream.Open(fresh, eventsUrl);

        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("completed", (await stream.ReadToEnd())[^1].Event);
        Assert.StartsWith(server.BaseAddress.ToString().TrimEnd('/') + "/jobs/", eventsUrl, StringComparison.Ordinal);
    }
}
