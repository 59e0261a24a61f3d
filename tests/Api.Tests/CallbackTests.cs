using System.Net;
using System.Text.Json;
using EventSourced.Api.Webhooks;
using EventSourced.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

/// <summary>The API calling back a receiver on loopback, with retries a fraction of a second apart.</summary>
public sealed class ApiWithCallbacks : ApiFixture
{
    /// <summary>The secret of the Standard Webhooks specification's published test vector.</summary>
    public const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
        ["Webhooks:Secrets:default"] = Secret,
        ["Webhooks:RetrySchedule:0"] = "00:00:00.100",
        ["Webhooks:RetrySchedule:1"] = "00:00:00.100",
        ["Webhooks:RetrySchedule:2"] = "00:00:00.100",
    };
}

public sealed class CallbackTests(ApiWithCallbacks api) : IClassFixture<ApiWithCallbacks>
{
    private readonly HttpClient _client = api.CreateClient();
    private static readonly JsonElement Output = JsonDocument.Parse("""{"output":"movie.mp4"}""").RootElement;

    [Fact]
    public void The_receivers_signature_check_agrees_with_the_specifications_test_vector()
    {
        Assert.True(CallbackReceiver.IsSigned(ApiWithCallbacks.Secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
            """{"test": 2432232314}""", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        Assert.False(CallbackReceiver.IsSigned(ApiWithCallbacks.Secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265331",
            """{"test": 2432232314}""", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    [Fact]
    public async Task A_receiver_that_fails_twice_gets_the_same_signed_message_three_times_and_the_history_shows_each_attempt()
    {
        await using var receiver = await CallbackReceiver.Start(500, 503, 200);
        var id = await Submit($$"""{"type":"transcode","input":{"fileId":"movie"},"callbackUrl":"{{receiver.Url}}"}""");
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new CompleteJob(1, Output, "application/json"));

        var history = await Eventually.Get(() => CallbackRecords(id), records => records.Contains("webhook.delivered"), "the callback to be delivered");

        Assert.Equal(["webhook.attempted", "webhook.attempted", "webhook.delivered"], history);
        Assert.Equal(3, receiver.Requests.Count);
        Assert.All(receiver.Requests, r => Assert.True(r.Signed, "a callback's signature did not check out"));
        Assert.Single(receiver.Requests.Select(r => r.MessageId).Distinct());
        Assert.Single(receiver.Requests.Select(r => r.Body).Distinct());
        var payload = JsonDocument.Parse(receiver.Requests.First().Body).RootElement;
        Assert.Equal(("job.completed", "completed", id.ToString()),
            (payload.Str("type"), payload.GetProperty("data").Str("status"), payload.GetProperty("data").Str("jobId")));
    }

    [Fact]
    public async Task Callbacks_go_out_for_the_events_asked_for_and_a_410_stops_them()
    {
        await using var receiver = await CallbackReceiver.Start(200, 410, 200);
        var id = await Submit($$"""{"type":"transcode","input":{"fileId":"movie"},"callbackUrl":"{{receiver.Url}}","callbackEvents":["progress","completed"]}""");
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new ReportProgress(1, 50, "half"));
        await Eventually.Get(() => CallbackRecords(id), records => records.Count == 1, "the progress callback");
        await api.Drive(id, new CompleteJob(1, Output, "application/json"));

        var history = await Eventually.Get(() => CallbackRecords(id), records => records.Count == 2, "the completion callback");

        Assert.Equal(["webhook.delivered", "webhook.abandoned"], history);
        Assert.Equal(["job.progressed", "job.completed"], receiver.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.Str("type")));
        var events = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        Assert.Contains("410", events.GetProperty("events").EnumerateArray().Last().GetProperty("data").Str("reason"));
    }

    [Fact]
    public async Task The_clients_event_stream_leaves_out_the_callback_records()
    {
        await using var receiver = await CallbackReceiver.Start(200);
        var id = await Submit($$"""{"type":"transcode","input":{"fileId":"movie"},"callbackUrl":"{{receiver.Url}}"}""");
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new CompleteJob(1, Output, "application/json"));
        await Eventually.Get(() => CallbackRecords(id), records => records.Count == 1, "the callback");

        await using var sse = await SseStream.Open(_client, $"/jobs/{id}/events");
        var names = (await sse.ReadToEnd()).Select(e => e.Event);

        Assert.Equal(["queued", "processing", "completed"], names);
    }

    [Theory]
    [InlineData("""{"callbackUrl":"http://example.com/hook"}""", "callbackUrl")]
    [InlineData("""{"callbackUrl":"https://user:pass@example.com/hook"}""", "callbackUrl")]
    [InlineData("""{"callbackUrl":"https://example.com/hook","callbackEvents":["finished"]}""", "callbackEvents[0]")]
    [InlineData("""{"callbackEvents":["completed"]}""", "callbackEvents")]
    [InlineData("""{"callbackUrl":"https://example.com/hook"}""", "callbackUrl", "acme")]
    public async Task A_callback_that_cannot_be_made_is_refused_and_nothing_is_written(string callback, string field, string? tenant = null)
    {
        var key = Guid.NewGuid().ToString();
        var body = callback.Replace("{", """{"type":"transcode","input":{"fileId":"movie"},""", StringComparison.Ordinal);

        var response = await (tenant is null ? _client : api.ClientFor(tenant)).PostJson("/jobs", body, key);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty(field, out _), $"no error about {field}");
        var id = Domain.Jobs.Idempotency.JobId(tenant ?? "default", key);
        Assert.Empty(await api.Events(id, tenant ?? "default"));
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("93.184.216.34", true)]
    [InlineData("2606:2800:220:1::1", true)]
    public void Only_public_addresses_are_called_back(string address, bool allowed) =>
        Assert.Equal(allowed, CallbackSender.IsPublic(IPAddress.Parse(address)));

    private async Task<Guid> Submit(string body)
    {
        var response = await _client.PostJson("/jobs", body, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    private async Task<List<string>> CallbackRecords(Guid id) =>
        [.. (await api.Events(id)).Select(e => e.EventTypeName).Where(name => name.StartsWith("webhook.", StringComparison.Ordinal))];
}
