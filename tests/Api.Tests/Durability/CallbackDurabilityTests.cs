using System.Diagnostics;
using EventSourced.Domain.Jobs;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Api.Tests.Durability;

/// <summary>A node is killed (kill -9) after the job's end is committed, while its callback is on the wire.</summary>
public sealed class CallbackDurabilityTests(TestDatabase db, ITestOutputHelper output) : IClassFixture<TestDatabase>
{
    private static readonly (string, string)[] Callbacks =
    [
        ("Webhooks__AllowedHosts__0", "127.0.0.1"),
        ("Webhooks__Secrets__default", ApiWithCallbacks.Secret),
        // Longer than the test: the killed node must still be waiting for the receiver when it dies.
        ("Webhooks__Timeout", "00:05:00"),
    ];

    [Fact]
    public async Task A_callback_cut_off_by_a_killed_node_goes_out_again_from_the_next_node_under_the_same_id_and_is_recorded_once()
    {
        await using var receiver = await CallbackReceiver.Start(CallbackReceiver.NoAnswer, 200);
        await using var a = await Nodes.Start(db.ConnectionString, "node-a", Callbacks);
        var id = await a.Client().Submit("flaky", """{"failAttempts":0}""", $",\"callbackUrl\":\"{receiver.Url}\"");
        await Eventually.Get(() => Task.FromResult(receiver.Requests.Count), n => n == 1, "the callback to reach the receiver");

        a.Kill();
        var killed = Stopwatch.StartNew();
        await using var b = await Nodes.Start(db.ConnectionString, "node-b", Callbacks);
        var records = await Eventually.Get(async () => (await Nodes.History(db.ConnectionString, id)).Where(Domain.Jobs.Callbacks.IsRecord).ToList(),
            r => r.Count > 0, "the callback to be sent again and recorded", TimeSpan.FromSeconds(150));
        output.WriteLine($"From kill -9 to the callback recorded by the next node: {killed.Elapsed.TotalSeconds:F1} s.");

        var delivered = Assert.IsType<JobEvent.WebhookDelivered>(Assert.Single(records));
        Assert.Equal(2, receiver.Requests.Count);
        Assert.Equal([delivered.MessageId], receiver.Requests.Select(r => r.MessageId).Distinct());
        Assert.All(receiver.Requests, r => Assert.True(r.Signed));
        Assert.Single(receiver.Requests.Select(r => r.Body).Distinct());
    }
}
