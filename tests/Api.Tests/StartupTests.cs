using EventSourced.Api.Tests.Durability;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Scheduling;
using EventSourced.TestSupport;
using Marten;

namespace EventSourced.Api.Tests;

/// <summary>A misconfigured database stops the real server with one message that names the setting to fix.</summary>
public sealed class StartupTests
{
    [Theory]
    [InlineData("postgres://postgres@127.0.0.1:{closedPort}/jobs", "Cannot use the database 127.0.0.1:{closedPort}/jobs named by DATABASE_URL")]
    [InlineData("Host=127.0.0.1;Colour=blue", "DATABASE_URL is not a valid PostgreSQL connection string")]
    [InlineData("", "No database is configured: set DATABASE_URL")]
    public async Task A_database_that_cannot_be_used_stops_start_up_with_one_clear_message(string databaseUrl, string message)
    {
        var closedPort = ApiProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var api = ApiProcess.Start(new Dictionary<string, string?> { ["DATABASE_URL"] = databaseUrl.Replace("{closedPort}", closedPort) });

        Assert.Equal(1, await api.WaitForExit(TimeSpan.FromSeconds(60)));
        var output = api.Output.Trim();
        Assert.Single(output.Split('\n'));
        Assert.StartsWith("Cannot start: " + message.Replace("{closedPort}", closedPort), output);
    }
}

/// <summary>Nodes an orchestrator starts at the same moment, on a database nothing has used yet.</summary>
public sealed class ClusterStartupTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Nodes_started_together_on_an_empty_database_all_come_up()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString };

        var nodes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ApiProcess.StartHealthy(settings)));

        foreach (var node in nodes)
            await node.DisposeAsync();
    }
}

/// <summary>Archived jobs' events in partitions of their own: made so in a new database, and never forced on an old one.</summary>
public sealed class ArchivedPartitionsTests
{
    [Fact]
    public async Task A_new_database_keeps_archived_events_apart_and_one_made_before_keeps_its_tables_its_events_and_their_numbering()
    {
        await using var fresh = new TestDatabase();
        await fresh.InitializeAsync();
        await using var old = new TestDatabase();
        await old.InitializeAsync();
        // Event tables as the service made them before: unpartitioned, with a job in them.
        using (var before = DocumentStore.For(o =>
        {
            o.Connection(old.ConnectionString);
            JobStorage.Configure(o);
            o.Events.UseArchivedStreamPartitioning = false;
        }))
        {
            await before.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            var id = Guid.NewGuid();
            await new GroupCommit(before).Append(new StreamAppend(id, Tenants.Default, 0,
            [
                new JobEvent.JobSubmitted(id, "report", System.Text.Json.JsonDocument.Parse("{}").RootElement, null, null, "fp", "k", 3, 60,
                    new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), DateTimeOffset.UtcNow),
            ], EventMetadata.None, typeof(Job)), default);
        }

        foreach (var db in (TestDatabase[])[fresh, old])
        {
            var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString, ["Logging__LogLevel__Default"] = "Warning" };
            await using (var node = await ApiProcess.StartHealthy(settings))
            {
                using var client = await node.ClientWithKey(settings);
                await client.WaitForStatus(await client.Submit("transcode", """{"fileId":"a","steps":1,"stepMs":0}"""), "completed");
            }
            // A second start finds nothing to change.
            await using (await ApiProcess.StartHealthy(settings))
            {
            }
        }

        Assert.Equal("p", await fresh.Scalar<string>("SELECT relkind::text FROM pg_class WHERE oid = 'jobs.mt_events'::regclass"));
        Assert.Equal("r", await old.Scalar<string>("SELECT relkind::text FROM pg_class WHERE oid = 'jobs.mt_events'::regclass"));
        // The job made before is there, and the new job's events were numbered after its event.
        Assert.Equal(2L, await old.Scalar<long>("SELECT count(DISTINCT stream_id) FROM jobs.mt_events"));
        Assert.Equal(1L, await old.Scalar<long>("SELECT min(seq_id) FROM jobs.mt_events"));
        Assert.Equal(await old.Scalar<long>("SELECT count(*) FROM jobs.mt_events"), await old.Scalar<long>("SELECT count(DISTINCT seq_id) FROM jobs.mt_events"));
    }
}
