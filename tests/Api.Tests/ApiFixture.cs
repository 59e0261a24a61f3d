using Alba;
using EventSourced.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace EventSourced.Api.Tests;

/// <summary>
/// The API in process (Alba, on ASP.NET Core's test server) on its own fresh database, with its runner
/// taking jobs as they come. One host per test class: Wolverine and Marten are set up once for all its tests.
/// </summary>
public class ApiFixture : IAsyncLifetime
{
    public TestDatabase Database { get; } = new();
    public IAlbaHost Host { get; private set; } = null!;

    /// <summary>Settings a fixture adds on top of the database's (runner, SSE keepalive, ...).</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
    };

    public HttpClient CreateClient() => Host.Server.CreateClient();

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        Host = await AlbaHost.For<Program>(builder =>
        {
            builder.UseEnvironment("Testing");
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(new Dictionary<string, string?>(Settings)
            {
                // Both names, so the server-wide DATABASE_URL that ./test exports is overridden.
                ["DATABASE_URL"] = Database.ConnectionString,
                ["ConnectionStrings:Postgres"] = Database.ConnectionString,
            }));
        });
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>
/// The API with no runner: jobs stay queued until a test moves them on itself, so what a client sees
/// (status, events) can be checked at each step.
/// </summary>
public sealed class ApiWithoutRunner : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Sse:KeepAlive"] = "00:00:00.300",
    };
}
