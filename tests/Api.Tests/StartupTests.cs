using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>A misconfigured database stops the real server with one message that names the setting to fix.</summary>
public sealed class StartupTests
{
    [Theory]
    [InlineData("postgres://postgres@127.0.0.1:{closedPort}/jobs", "Cannot use the database 127.0.0.1:{closedPort}/jobs named by DATABASE_URL")]
    [InlineData("Host=127.0.0.1;Colour=blue", "DATABASE_URL is not a valid PostgreSQL connection string (postgres://user:password@host:port/database, or Host=...;Database=...): ")]
    [InlineData("banana", "DATABASE_URL is not a valid PostgreSQL connection string (postgres://user:password@host:port/database, or Host=...;Database=...): ")]
    [InlineData("", "No database is configured: set DATABASE_URL")]
    public async Task A_database_that_cannot_be_used_stops_start_up_with_one_clear_message(string databaseUrl, string message)
    {
        var closedPort = ApiProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var api = ApiProcess.Start(new Dictionary<string, string?> { ["DATABASE_URL"] = databaseUrl.Replace("{closedPort}", closedPort) });

        Assert.Equal(1, await api.WaitForExit(Patience.Bound));
        var output = api.Output.Trim();
        Assert.Single(output.Split('\n'));
        Assert.StartsWith("Cannot start: " + message.Replace("{closedPort}", closedPort), output);
    }
}

/// <summary>A public base URL that is not one stops the real server with one message that names the setting.</summary>
public sealed class PublicBaseUrlStartupTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Theory]
    [InlineData("jobs.example.com")]
    [InlineData("ftp://jobs.example.com")]
    [InlineData("https://jobs.example.com/?tenant=x")]
    public async Task A_public_base_url_that_is_not_an_absolute_http_url_stops_start_up_with_one_clear_message(string value)
    {
        await using var api = ApiProcess.Start(new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString, ["Api__PublicBaseUrl"] = value });

        Assert.Equal(1, await api.WaitForExit(TimeSpan.FromSeconds(60)));
        var output = api.Output.Trim();
        Assert.Single(output.Split('\n'));
        Assert.StartsWith($"Cannot start: Api:PublicBaseUrl must be an absolute http or https URL", output);
    }
}

/// <summary>Nodes an orchestrator starts at the same moment, on a database nothing has used yet.</summary>
public sealed class ClusterStartupTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task Nodes_started_together_on_an_empty_database_all_come_up()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString };

        var nodes = Enumerable.Range(0, 3).Select(_ => ApiProcess.Start(settings)).ToList();
        try
        {
            await Task.WhenAll(nodes.Select(node => node.WaitUntilHealthy()));
        }
        finally
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
        }
    }
}
