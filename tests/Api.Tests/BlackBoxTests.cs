using System.Net;
using EventSourced.Api.Tests.Durability;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>The real server, as a process of its own on a free port, driven by a plain HTTP client.</summary>
public sealed class BlackBoxTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_job_goes_from_post_to_completed_over_sse_against_the_real_server()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString };
        await using var server = await ApiProcess.StartHealthy(settings);
        using var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostJson("/transcodes", """{"fileId":"black-box"}""", "black-box-0")).StatusCode);
        using var client = await server.ClientWithKey(settings);

        var accepted = await client.PostJson("/transcodes", """{"fileId":"black-box","steps":3,"stepMs":20}""", "black-box-1");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var location = accepted.Headers.Location!.ToString();

        // As a browser follows it: EventSource sends no Authorization header, the eventsUrl's token stands in for it.
        await using var stream = await SseStream.Open(anonymous, (await accepted.Json()).Str("eventsUrl"));
        var events = await stream.ReadToEnd();

        Assert.Equal(["queued", "processing", "progress", "progress", "progress", "completed"], events.Select(e => e.Event));
        var job = await (await client.GetAsync(location)).Json();
        Assert.Equal(("completed", 100), (job.Str("status"), job.GetProperty("progress").GetInt32()));
        Assert.Equal("black-box.mp4", (await (await client.GetAsync(job.Str("resultUrl"))).Json()).Str("output"));
    }
}
