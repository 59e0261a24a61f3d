using System.Diagnostics;
using System.Text.Json;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Api.Tests.Durability;

/// <summary>The asynchronous statistics run on one node at a time (Marten's HotCold daemon); that node is killed (kill -9).</summary>
public sealed class StatsDaemonTests(TestDatabase db, ITestOutputHelper output) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task When_the_node_keeping_the_stats_is_killed_another_takes_over_and_counts_every_job_once()
    {
        await using var a = await Nodes.Start(db.ConnectionString, "node-a");
        await Finish(a, 10);
        // Alone, node-a leads: its count is up to date before node-b exists.
        await Completed(a, total => total == 10, "node-a to count the first jobs");
        await using var b = await Nodes.Start(db.ConnectionString, "node-b");

        a.Kill();
        var killed = Stopwatch.StartNew();
        await Finish(b, 10);

        var stats = await Completed(b, total => total >= 20, "node-b to take the stats over and count the rest", TimeSpan.FromSeconds(120));
        output.WriteLine($"From kill -9 to every job counted on node-b: {killed.Elapsed.TotalSeconds:F1} s.");
        Assert.Equal(20, stats);
    }

    private static async Task Finish(ApiProcess node, int jobs)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < jobs; i++)
            ids.Add(await node.Client().Submit("flaky", """{"failAttempts":0}"""));
        foreach (var id in ids)
            await node.Client().WaitForStatus(id, "completed");
    }

    /// <summary>Completed jobs in today's stats, once they are caught up with the feed and pass <paramref name="done"/>.</summary>
    private static async Task<long> Completed(ApiProcess node, Func<long, bool> done, string what, TimeSpan? timeout = null)
    {
        var stats = await Eventually.Get(async () => await (await node.Client().GetAsync("/stats")).Json(),
            s => s.GetProperty("lag").GetProperty("eventsBehind").GetInt64() == 0 && done(Total(s)), what, timeout);
        return Total(stats);
    }

    private static long Total(JsonElement stats) => stats.GetProperty("days").EnumerateArray().Sum(d => d.GetProperty("completed").GetInt64());
}
