using System.Diagnostics;
using EventSourced.TestSupport;
using Xunit.Abstractions;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Tests.Durability;

/// <summary>Two nodes on one database: work is claimed once, and either node serves any job.</summary>
public sealed class ClusterTests(TestDatabase db, ITestOutputHelper output) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Two_hundred_jobs_over_two_nodes_all_complete_each_started_once()
    {
        // Nobody dies here: a lease of the usual length, so a burst that saturates the CPU cannot expire one.
        (string, string)[] settings = [("Runner__Concurrency", "8"), ("Runner__LeaseDuration", "00:00:30")];
        await using var a = await Nodes.Start(db.ConnectionString, "node-a", settings);
        await using var b = await Nodes.Start(db.ConnectionString, "node-b", settings);
        HttpClient[] clients = [a.Client(), b.Client()];

        var clock = Stopwatch.StartNew();
        var ids = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            clients[i % 2].Submit("transcode", """{"fileId":"many","steps":1,"stepMs":50}""")));
        await Eventually.Get(() => db.Scalar<long>("SELECT count(*) FROM jobs.mt_doc_job_status WHERE status = 'Completed' AND id = ANY($1)", ids),
            done => done == 200, "all 200 jobs to complete", TimeSpan.FromMinutes(2));
        output.WriteLine($"200 jobs submitted and completed over two nodes in {clock.Elapsed.TotalSeconds:F1} s.");

        var workers = new HashSet<string>();
        foreach (var id in ids)
        {
            var history = await Nodes.History(db.ConnectionString, id);
            var started = Assert.Single(history.OfType<JobStarted>());
            Assert.Equal(1, started.Attempt);
            Assert.IsType<JobCompleted>(history[^1]);
            workers.Add(started.Worker);
        }
        Assert.Equal(["node-a", "node-b"], workers.Order());
        Assert.Equal(0L, await db.Scalar<long>("SELECT count(*) FROM jobs.job_leases"));
    }

    [Fact]
    public async Task Cancelling_on_one_node_stops_the_handler_running_on_the_other()
    {
        // A lease long enough that a busy machine does not let it run out, and the job start again, while the test waits.
        (string, string) lease = ("Runner__LeaseDuration", "00:00:30");
        await using var a = await Nodes.Start(db.ConnectionString, "node-a", lease);
        await using var b = await Nodes.Start(db.ConnectionString, "node-b", lease);
        var id = await a.Client().Submit("hang", "{}");
        var started = await Eventually.Get(() => Nodes.History(db.ConnectionString, id), h => h.OfType<JobStarted>().Any(), "the job to start");
        var other = started.OfType<JobStarted>().Single().Worker == "node-a" ? b : a;

        await using var stream = await SseStream.Open(other.Client(), $"/jobs/{id}/events");
        var clock = Stopwatch.StartNew();
        (await other.Client().PostAsync($"/jobs/{id}/cancel", null)).EnsureSuccessStatusCode();
        var events = await stream.ReadToEnd();
        output.WriteLine($"Cancel on one node to cancelled on the other: {clock.Elapsed.TotalMilliseconds:F0} ms.");

        Assert.Equal("cancelled", events[^1].Event);
        var history = await Nodes.History(db.ConnectionString, id);
        Assert.Single(history.OfType<JobStarted>());
        Assert.IsType<JobCancelled>(history[^1]);
    }
}
