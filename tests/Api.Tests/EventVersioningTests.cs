using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

/// <summary>Events stored by an earlier version of the service, in a shape since changed, as clients and auditors read them.</summary>
public sealed class EventVersioningTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_failure_stored_in_the_earlier_shape_reads_in_todays_in_the_history_the_feed_time_travel_and_the_event_stream()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new FailAttempt(1, "boom", "It broke.", 0, Retryable: false));
        // As the service stored failures until 2026-11-25: the error's code and message side by side.
        await api.Database.Execute("""
            UPDATE jobs.mt_events SET data = data - 'error' || '{"errorCode": "boom", "errorMessage": "It broke."}'::jsonb
            WHERE stream_id = $1 AND type = 'job.failed'
            """, id);

        var history = await (await _client.GetAsync($"/jobs/{id}/history")).Json();
        // The feed shows an event once every transaction that took a sequence number before it has ended: soon, not at once.
        var feed = await Eventually.Get(async () => await (await _client.GetAsync($"/events?type=job.failed&correlationId={id}")).Json(),
            page => page.GetProperty("events").GetArrayLength() > 0, "the feed to reach the failure");
        var then = await (await _client.GetAsync($"/jobs/{id}?atVersion=3")).Json();
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        var streamed = await stream.ReadToEnd();

        var stored = history.GetProperty("events").EnumerateArray().Last();
        Assert.Equal("job.failed", stored.Str("type"));
        Assert.Equal("""{"code":"boom","message":"It broke."}""", stored.GetProperty("data").GetProperty("error").GetRawText());
        Assert.False(stored.GetProperty("data").TryGetProperty("errorCode", out _));
        Assert.Equal(stored.GetRawText(), Assert.Single(feed.GetProperty("events").EnumerateArray()).GetRawText());
        Assert.Equal(("failed", "boom"), (then.Str("status"), then.GetProperty("error").Str("code")));
        Assert.Equal("boom", streamed.Single(e => e.Event == "failed").Json.GetProperty("error").Str("code"));
    }
}
