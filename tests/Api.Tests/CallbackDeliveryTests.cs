using System.Net;
using System.Text.Json;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// The API running jobs itself and for external workers, sweeping leases every half second, and calling back a receiver
/// on loopback with retries a tenth of a second apart.
/// </summary>
public sealed class ApiWithCallbacksOnEveryPath : ApiFixture
{
    public const string ExternalType = "callback-worker";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        // Sweeps every second (a quarter of it), to end a worker's unrenewed lease and a payment's wait within the test.
        ["Runner:LeaseDuration"] = "00:00:04",
        [$"Jobs:Types:{ExternalType}:External"] = "true",
        ["Jobs:Defaults:BackoffBase"] = "00:00:00.050",
        ["Jobs:Defaults:BackoffCap"] = "00:00:00.100",
        ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
        ["Webhooks:Secrets:default"] = ApiWithCallbacks.Secret,
        ["Webhooks:RetrySchedule:0"] = "00:00:00.100",
        ["Webhooks:RetrySchedule:1"] = "00:00:00.100",
        ["Webhooks:RetrySchedule:2"] = "00:00:00.100",
    };
}

/// <summary>
/// A receiver de-duplicates by webhook-id and may act on the first copy it gets: every attempt of a message must carry
/// the same bytes, and they must describe the event the message is for, whichever path appended that event.
/// </summary>
public sealed class CallbackDeliveryTests(ApiWithCallbacksOnEveryPath api) : IClassFixture<ApiWithCallbacksOnEveryPath>
{
    private readonly HttpClient _client = api.CreateClient();
    private static readonly string Every = JsonSerializer.Serialize(Domain.Jobs.Callbacks.Names);

    [Fact]
    public async Task Claims_and_the_runners_reports_call_back_with_the_event_each_message_is_for()
    {
        await using var receiver = await CallbackReceiver.FailingFirstAttempts();
        var ids = new List<Guid>();
        for (var i = 0; i < 8; i++)
            ids.Add(await Submit("transcode", """{"fileId":"movie","steps":2,"stepMs":0}""", receiver));

        foreach (var id in ids)
            await AssertEveryCallbackDescribesItsEvent(id, receiver, ["started", "progress", "progress", "completed"]);
    }

    [Fact]
    public async Task A_suspension_and_the_sweep_that_ends_its_wait_call_back_with_their_own_events()
    {
        await using var receiver = await CallbackReceiver.FailingFirstAttempts();
        var id = await Submit("payment", """{"amount":1.5,"currency":"EUR","waitSeconds":1}""", receiver);

        await AssertEveryCallbackDescribesItsEvent(id, receiver, ["started", "waiting", "failed"]);
    }

    [Fact]
    public async Task A_workers_claim_reports_and_expired_lease_call_back_with_their_own_events()
    {
        await using var receiver = await CallbackReceiver.FailingFirstAttempts();
        var id = await Submit(ApiWithCallbacksOnEveryPath.ExternalType, """{"fileId":"img"}""", receiver);

        var first = await Claim(leaseSeconds: 60);
        await Report(id, "progress", new { leaseToken = first, percent = 50 });
        await Report(id, "fail", new { leaseToken = first, errorCode = "cdn_down", errorMessage = "No answer." });
        await Claim(leaseSeconds: 5); // never renewed: the sweep ends this attempt
        var third = await Claim(leaseSeconds: 60);
        await Report(id, "complete", new { leaseToken = third, result = new { url = "https://cdn.example/img.png" } });

        await AssertEveryCallbackDescribesItsEvent(id, receiver, ["started", "progress", "retrying", "started", "retrying", "started", "completed"]);
    }

    [Fact]
    public async Task A_cancellation_calls_back_with_the_cancelled_job()
    {
        await using var receiver = await CallbackReceiver.FailingFirstAttempts();
        var id = await Submit(ApiWithCallbacksOnEveryPath.ExternalType, """{"fileId":"never-claimed"}""", receiver);

        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/jobs/{id}/cancel", null)).StatusCode);

        await AssertEveryCallbackDescribesItsEvent(id, receiver, ["cancelled"]);
    }

    /// <summary>
    /// Waits until every callback the job's events called for was delivered (after a first attempt the receiver failed),
    /// then checks each message: its attempts carry the same bytes, and its body is the event at the message's version.
    /// </summary>
    private async Task AssertEveryCallbackDescribesItsEvent(Guid id, CallbackReceiver receiver, string[] expected)
    {
        var history = await Eventually.Get(() => History(id),
            events => events.Count(e => e.Type == "webhook.delivered") == expected.Length,
            $"{expected.Length} callbacks of job {id} to be delivered", TimeSpan.FromMinutes(2));

        var called = history.Where(e => Domain.Jobs.Callbacks.Names.Contains(CallbackName(e.Type))).ToList();
        Assert.Equal(expected, called.Select(e => CallbackName(e.Type)));
        foreach (var e in called)
        {
            var messageId = $"msg_{id:N}_{e.Version}";
            var attempts = receiver.Requests.Where(r => r.MessageId == messageId).ToList();
            Assert.True(attempts.Count == 2, $"{messageId} ({e.Type}) was sent {attempts.Count} times; the receiver failed its first attempt only");
            Assert.True(attempts[0].Body == attempts[1].Body, $"the attempts of {messageId} differ:\n{attempts[0].Body}\n{attempts[1].Body}");
            var body = JsonDocument.Parse(attempts[0].Body).RootElement;
            Assert.Equal((e.Type, e.Version), (body.Str("type"), body.GetProperty("data").GetProperty("version").GetInt64()));
        }
    }

    private static string CallbackName(string eventType) => eventType switch
    {
        "job.started" => "started",
        "job.progressed" => "progress",
        "job.suspended" => "waiting",
        "job.attempt_failed" => "retrying",
        "job.completed" => "completed",
        "job.failed" => "failed",
        "job.cancelled" => "cancelled",
        _ => "",
    };

    private async Task<List<(string Type, long Version)>> History(Guid id)
    {
        var history = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        return [.. history.GetProperty("events").EnumerateArray().Select(e => (e.Str("type"), e.GetProperty("version").GetInt64()))];
    }

    private async Task<Guid> Submit(string type, string input, CallbackReceiver receiver)
    {
        var response = await _client.PostJson("/jobs",
            $$"""{"type":"{{type}}","input":{{input}},"callbackUrl":"{{receiver.Url}}","callbackEvents":{{Every}}}""", Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    /// <summary>Claims the external type's next job, waiting for it to be due, and answers its lease token.</summary>
    private async Task<string> Claim(int leaseSeconds)
    {
        var work = await Eventually.Get(async () =>
        {
            var response = await _client.PostJson("/workers/claims",
                $$"""{"types":["{{ApiWithCallbacksOnEveryPath.ExternalType}}"],"leaseSeconds":{{leaseSeconds}},"worker":"callback-test"}""", null);
            return response.StatusCode == HttpStatusCode.OK ? (JsonElement?)await response.Json() : null;
        }, w => w is not null, "a job to claim", TimeSpan.FromMinutes(1));
        return work!.Value.Str("leaseToken");
    }

    private async Task Report(Guid id, string what, object body)
    {
        var response = await _client.PostAsync($"/workers/jobs/{id}/{what}", new StringContent(JsonSerializer.Serialize(body), null, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
