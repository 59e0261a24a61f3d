using System.Net.Http.Headers;
using Alba;
using EventSourced.Api.Access;
using EventSourced.EventStore;
using EventSourced.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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

    /// <summary>Services a fixture adds to the app's (a log capture, say).</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>Tests make requests far faster than any client should: the limits are tested on their own.</summary>
    private static readonly Dictionary<string, string?> GenerousLimits = new()
    {
        ["Access:RequestsPerSecond"] = "1000000",
        ["Access:Burst"] = "1000000",
        ["Access:MaxStreamsPerTenant"] = "100000",
    };

    private readonly Dictionary<string, string> _keys = [];

    /// <summary>A client of tenant default with a key of every role, for every job type.</summary>
    public HttpClient CreateClient() => ClientFor(Tenants.Default);

    /// <summary>A client with a key of <paramref name="tenant"/> that has <paramref name="roles"/> (all when none are named).</summary>
    public HttpClient ClientFor(string tenant, params string[] roles)
    {
        var client = CheckedClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key(tenant, roles.Length == 0 ? Roles.All : roles));
        return client;
    }

    /// <summary>A client without credentials whose every answer is checked against the OpenAPI document, as the keyed clients' are.</summary>
    public HttpClient CheckedClient() =>
        new(new ContractCheckingHandler(() => Contract) { InnerHandler = Host.Server.CreateHandler() }) { BaseAddress = Host.Server.BaseAddress };

    /// <summary>The document this host serves at /openapi/v1.json, which every answer a test client receives is held to.</summary>
    public ContractCheck Contract
    {
        get
        {
            if (_contract is null)
            {
                using var anonymous = Host.Server.CreateClient();
                _contract = new ContractCheck(anonymous.GetStringAsync("/openapi/v1.json").GetAwaiter().GetResult());
            }
            return _contract;
        }
    }

    private ContractCheck? _contract;

    /// <summary>An Alba scenario, sent with the key of <see cref="CreateClient"/>; its answer is checked against the OpenAPI document.</summary>
    public async Task<IScenarioResult> Scenario(Action<Scenario> configure)
    {
        var result = await Host.Scenario(s =>
        {
            s.WithRequestHeader("Authorization", $"Bearer {Key(Tenants.Default, Roles.All)}");
            configure(s);
        });
        var http = result.Context;
        string? body = null;
        if (http.Response.Body is { CanSeek: true } stream)
        {
            var position = stream.Position;
            stream.Position = 0;
            body = await new StreamReader(stream, leaveOpen: true).ReadToEndAsync();
            stream.Position = position;
        }
        var failure = Contract.Check(http.Request.Method, http.Request.Path, http.Response.StatusCode, http.Response.ContentType, body);
        return failure is null ? result : throw new ContractBreach(failure);
    }

    /// <summary>An API key, made as the operator's command makes them (once per tenant and roles).</summary>
    public string Key(string tenant, IReadOnlyList<string> roles, params string[] jobTypes)
    {
        var name = $"{tenant}/{string.Join(",", roles)}/{string.Join(",", jobTypes)}";
        lock (_keys)
        {
            if (!_keys.TryGetValue(name, out var key))
            {
                var keys = Host.Services.GetRequiredService<ApiKeys>();
                _keys[name] = key = keys.Create(tenant, roles, jobTypes.Length == 0 ? [AccessClaims.AnyJobType] : jobTypes, name, default).GetAwaiter().GetResult().Key;
            }
            return key;
        }
    }

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        Host = await AlbaHost.For<Program>(builder =>
        {
            builder.UseEnvironment("Testing");
            builder.ConfigureServices(ConfigureServices);
            builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(new Dictionary<string, string?>(GenerousLimits.Concat(Settings)
                .GroupBy(s => s.Key).Select(g => g.Last()))
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
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Sse:KeepAlive"] = "00:00:00.300",
    };
}

public static class Fixtures
{
    /// <summary>
    /// For a fixture whose tests move jobs on by hand (Drive): such a job runs without a lease, and every node's lease
    /// sweep (each quarter of Runner:LeaseDuration) would end its attempt as lease_expired in the middle of a test that a
    /// busy machine makes slow. An hour's lease puts the next sweep a quarter of an hour away.
    /// </summary>
    public const string NoLeaseSweep = "01:00:00";
}
