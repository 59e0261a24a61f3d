using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Tests.Durability;

/// <summary>SIGTERM: a node stops claiming, lets running handlers finish within its drain time, and hands back the rest.</summary>
public sealed class ShutdownTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_job_that_finishes_within_the_drain_time_completes_on_the_node_that_is_stopping()
    {
        await using var a = await Nodes.Start(db.ConnectionString, "node-a", ("Runner__DrainTimeout", "00:00:20"));
        var id = await a.Client().Submit("transcode", """{"fileId":"drained","steps":4,"stepMs":300}""");
        await Eventually.Get(() => Nodes.History(db.ConnectionString, id), h => h.OfType<JobProgressed>().Any(), "the job to be running");

        a.Terminate();

        var exitCode = await a.WaitForExit(Patience.Bound);
        var history = await Nodes.History(db.ConnectionString, id);
        Assert.True(exitCode == 0 && history[^1] is JobCompleted,
            $"exit code {exitCode}, last event {history[^1].GetType().Name}; node-a said:\n{a.Output}");
        Assert.Equal("node-a", Assert.Single(history.OfType<JobStarted>()).Worker);
    }

    [Fact]
    public async Task A_job_still_running_when_the_drain_time_is_up_is_handed_back_and_another_node_takes_it_at_once()
    {
        await using var a = await Nodes.Start(db.ConnectionString, "node-a", ("Runner__LeaseDuration", "00:05:00"));
        var id = await a.Client().Submit("hang", "{}");
        await Eventually.Get(() => Nodes.History(db.ConnectionString, id), h => h.OfType<JobStarted>().Any(), "node-a to take it");
        await using var b = await Nodes.Start(db.ConnectionString, "node-b");

        a.Terminate();

        var exitCode = await a.WaitForExit(Patience.Bound);
        Assert.True(exitCode == 0, $"exit code {exitCode}; node-a said:\n{a.Output}");
        // The lease was five minutes: only the hand-back lets node-b take it this soon.
        var history = await Nodes.History(db.ConnectionString, id);
        Assert.True(history.OfType<JobReleased>().Any(), $"node-a exited without handing the job back; it said:\n{a.Output}");
        history = await Eventually.Get(() => Nodes.History(db.ConnectionString, id), h => h.OfType<JobStarted>().Count() == 2,
            "node-b to take the job");
        var released = Assert.Single(history.OfType<JobReleased>());
        Assert.Equal(1, released.Attempt);
        Assert.Empty(history.OfType<JobAttemptFailed>());
        Assert.Equal([(1, "node-a"), (2, "node-b")], history.OfType<JobStarted>().Select(s => (s.Attempt, s.Worker)));
        (await b.Client().PostAsync($"/jobs/{id}/cancel", null)).EnsureSuccessStatusCode();
    }
}
