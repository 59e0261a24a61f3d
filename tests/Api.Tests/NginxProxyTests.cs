using System.Net;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// The service behind Debian's nginx with the proxy settings docs/operators/deploying.md gives
/// (deploy/nginx/eventsourced-proxy.conf, included as it is), every request going through nginx.
/// </summary>
public sealed class NginxProxyTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Through_nginx_each_event_of_a_job_reaches_the_client_before_the_next_step_is_taken()
    {
        // The test is the job's worker, so that it takes each step itself, and only once the client has the last one.
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = db.ConnectionString,
            ["Jobs__Types__transcode__External"] = "true",
        };
        await using var service = await ApiProcess.StartHealthy(settings);
        await using var nginx = await NginxProcess.StartInFrontOf([service.BaseAddress]);
        using var client = await ClientWithKey(service, settings, nginx.BaseAddress);
        // A browser also asks for compressed answers: nginx then compresses what its settings let it compress.
        using var browser = service.CreateClient(nginx.BaseAddress, new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All });
        browser.Timeout = TimeSpan.FromSeconds(30);

        var accepted = await client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"proxied"}}""", "behind-nginx");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var job = await accepted.Json();
        var id = job.Str("jobId");
        // As a browser follows it: EventSource sends no Authorization header, the eventsUrl's token stands in for it.
        await using var stream = await Open(browser, job.Str("eventsUrl"), nginx);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("queued", (await NextEvent(stream, nginx, "the job was submitted")).Event);

        var claim = await client.PostJson("/workers/claims", """{"types":["transcode"],"worker":"behind-nginx"}""", null);
        Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        var lease = (await claim.Json()).Str("leaseToken");
        Assert.Equal("processing", (await NextEvent(stream, nginx, "the job was claimed")).Event);

        // Each step is taken only once the client holds the event of the step before: a proxy that held events back
        // until it had more of them, or until the response ended, would leave the client waiting here for good.
        // (nginx does that with proxy_buffering on, X-Accel-Buffering ignored, and gzip for text/event-stream.)
        foreach (var percent in new[] { 25, 50, 75 })
        {
            var progress = await client.PostJson($"/workers/jobs/{id}/progress", $$"""{"leaseToken":"{{lease}}","percent":{{percent}}}""", null);
            Assert.Equal(HttpStatusCode.OK, progress.StatusCode);
            var reported = await NextEvent(stream, nginx, $"the worker reported {percent} %");
            Assert.Equal(("progress", percent), (reported.Event, reported.Json.GetProperty("percent").GetInt32()));
        }

        var complete = await client.PostJson($"/workers/jobs/{id}/complete", $$$"""{"leaseToken":"{{{lease}}}","result":{"output":"proxied.mp4"}}""", null);
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        Assert.Equal("completed", (await NextEvent(stream, nginx, "the worker completed the job")).Event);
        Assert.Null(await stream.Next());
    }

    /// <summary>The stream's answer, which must come without the test doing anything more.</summary>
    private static async Task<SseStream> Open(HttpClient browser, string eventsUrl, NginxProcess nginx)
    {
        try
        {
            return await SseStream.Open(browser, eventsUrl);
        }
        catch (TaskCanceledException)
        {
            // A proxy that holds the body back may hold back the headers with it.
            throw new InvalidOperationException($"The stream's headers did not reach the client through nginx: nginx held them back.\n{nginx.Output}");
        }
    }

    /// <summary>The next event, which must come without the test doing anything more.</summary>
    private static async Task<SseEvent> NextEvent(SseStream stream, NginxProcess nginx, string after)
    {
        try
        {
            return await stream.Next() ?? throw new InvalidOperationException($"The stream ended after {after}, before its event.");
        }
        catch (OperationCanceledException)
        {
            // The wait only bounds a failing test: the event never comes while the test waits for it before going on.
            throw new InvalidOperationException($"The event for \"{after}\" did not reach the client through nginx before the next step:"
                + $" nginx held it back.\n{nginx.Output}");
        }
    }

    /// <summary>A key made by the operator's command, used through nginx (the answers checked against the service's document).</summary>
    private static async Task<HttpClient> ClientWithKey(ApiProcess service, IDictionary<string, string?> settings, Uri through)
    {
        var (exitCode, output) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "default", "--role", "client,worker", "--job-types", "transcode");
        Assert.True(exitCode == 0, output);
        var client = service.CreateClient(through);
        client.DefaultRequestHeaders.Authorization = new("Bearer", output.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal)));
        return client;
    }
}
