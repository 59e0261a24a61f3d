using System.Diagnostics;
using EventSourced.TestSupport;
using Xunit.Abstractions;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Tests.Durability;

/// <summary>A node dies mid-job (kill -9): no drain, no hand-back. Its lease runs out and another node takes over.</summary>
public sealed class NodeFailureTests(TestDatabase db, ITestOutputHelper output) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_job_whose_node_is_killed_is_finished_by_another_node_as_attempt_two_and_followed_through_on_the_survivor()
    {
        await using var a = await Nodes.Start(db.ConnectionString, "node-a", Nodes.ShortLease);
        await using var b = await Nodes.Start(db.ConnectionString, "node-b", Nodes.ShortLease);
        var id = await a.Client().Submit("transcode", """{"fileId":"killed","steps":20,"stepMs":150}""");
        var started = await Eventually.Get(() => Nodes.History(db.ConnectionString, id), h => h.OfType<JobStarted>().Any(), "a node to take it");
        var victimName = started.OfType<JobStarted>().Single().Worker;
        var (victim, survivor, survivorName) = victimName == "node-a" ? (a, b, "node-b") : (b, a, "node-a");

        await using var stream = await SseStream.Open(survivor.Client(), $"/jobs/{id}/events");
        victim.Kill();
        var killed = Stopwatch.StartNew();
        var events = await stream.ReadToEnd();
        output.WriteLine($"From kill -9 to completed on the survivor: {killed.Elapsed.TotalSeconds:F1} s (lease 5 s, job about 3 s).");

        Assert.Equal("completed", events[^1].Event);
        Assert.Equal(events.Select(e => e.Seq).Order(), events.Select(e => e.Seq));
        var history = await Nodes.History(db.ConnectionString, id);
        Assert.Equal([(1, victimName), (2, survivorName)], history.OfType<JobStarted>().Select(s => (s.Attempt, s.Worker)));
        var lost = Assert.Single(history.OfType<JobAttemptFailed>());
        Assert.Equal((1, "lease_expired"), (lost.Attempt, lost.Error.Code));
        Assert.Equal(2, (await (await survivor.Client().GetAsync($"/jobs/{id}")).Json()).GetProperty("attempt").GetInt32());
    }
}
