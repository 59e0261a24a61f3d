using EventSourced.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace EventSourced.Api.Tests;

/// <summary>The API in process, on its own fresh database, with its runner taking jobs as they come.</summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public TestDatabase Database { get; } = new();

    /// <summary>Settings a fixture adds on top of the database's (runner, SSE keepalive, ...).</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
    };

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        // Build the host now, so the schema is applied before the first test runs.
        _ = Services;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(new Dictionary<string, string?>(Settings)
        {
            // Both names, so the server-wide DATABASE_URL that ./test exports is overridden.
            ["DATABASE_URL"] = Database.ConnectionString,
            ["ConnectionStrings:Postgres"] = Database.ConnectionString,
        }));
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>
/// The API with no runner: jobs stay queued until a test moves them on itself, so what a client sees
/// (status, events) can be checked at each step.
/// </summary>
public sealed class ApiWithoutRunner : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Sse:KeepAlive"] = "00:00:00.300",
    };
}
