using EventSourced.TestSupport;

namespace EventSourced.Client.Tests;

/// <summary>
/// The real service as a process of its own (Kestrel on a free port) on a fresh database, with an API key made by the
/// operator's command, callbacks signed during a rotation (two secrets), and external job types that only a test moves
/// on: "manual" (the test claims it as a worker) and "parked" (nobody claims it: it stays queued); and one external
/// type for each worker test (<see cref="WorkerTypes"/>), so that a worker of one test never takes another test's job.
/// </summary>
public sealed class Service : IAsyncLifetime
{
    /// <summary>The Standard Webhooks test vector's secret, here the one being rotated out.</summary>
    public const string OldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    public const string NewSecret = "whsec_c2VydmljZS1zaWducy13aXRoLXRoaXMtbmV3LWtleQ==";

    private readonly int _port = ApiProcess.FreePort();

    /// <summary>The port of a page that calls the service from a browser (TypeScriptClientTests): the service allows its origin (CORS).</summary>
    public int BrowserPagePort { get; } = ApiProcess.FreePort();
    private Dictionary<string, string?> _settings = [];

    /// <summary>External types run by the worker tests' own workers, each retried after a short backoff.</summary>
    public static readonly string[] WorkerTypes = ["worked", "concurrent", "cancellable", "flaky", "rejected", "leased", "shutdown", "outage", "killed", "thumbnail", "failover"];

    public TestDatabase Database { get; } = new();
    public ApiProcess Api { get; private set; } = null!;
    public string Key { get; private set; } = "";
    public Uri BaseAddress => Api.BaseAddress;

    public async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        _settings = Settings(Database.ConnectionString);
        _settings["Access__CorsOrigins__0"] = $"http://127.0.0.1:{BrowserPagePort}";
        Key = await CreateKey(_settings);
        Api = await ApiProcess.StartHealthy(_settings, _port);
    }

    /// <summary>The settings of a node of the service on the database at <paramref name="connectionString"/> (NodeFailoverTests starts several).</summary>
    public static Dictionary<string, string?> Settings(string connectionString)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connectionString,
            ["Runner__PollInterval"] = "00:00:00.200",
            ["Webhooks__Secrets__default"] = $"{NewSecret} {OldSecret}",
            ["Webhooks__AllowedHosts__0"] = "127.0.0.1",
            ["Jobs__Types__manual__External"] = "true",
            ["Jobs__Types__parked__External"] = "true",
            ["Access__RequestsPerSecond"] = "1000000",
            ["Access__Burst"] = "1000000",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var type in WorkerTypes)
        {
            settings[$"Jobs__Types__{type}__External"] = "true";
            settings[$"Jobs__Types__{type}__BackoffBase"] = "00:00:00.100";
        }
        return settings;
    }

    /// <summary>An API key for tenant default with every role, made by the operator's command.</summary>
    public static async Task<string> CreateKey(IDictionary<string, string?> settings)
    {
        var (exitCode, output) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "default", "--role", "client,worker,auditor,admin", "--job-types", "*");
        Assert.True(exitCode == 0, output);
        return output.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal));
    }

    /// <summary>Kills the service (as kill -9 would) and starts it again on the same address and database; <paramref name="whileDown"/> runs in between.</summary>
    public async Task KillAndRestart(Action? whileDown = null)
    {
        await Api.DisposeAsync();
        whileDown?.Invoke();
        Api = await ApiProcess.StartHealthy(_settings, _port);
    }

    /// <summary>A client of the service with the key, whose traffic goes through <paramref name="traffic"/> when given.</summary>
    public JobsClient Client(Traffic? traffic = null, RetryPolicy? retry = null) =>
        new(Http(traffic), new JobsClientOptions { BaseAddress = BaseAddress, ApiKey = Key, Retry = retry ?? Fast });

    /// <summary>Plain HTTP with the key: what a worker or a test sends by hand.</summary>
    public HttpClient Http(Traffic? traffic = null)
    {
        var http = traffic is null ? new HttpClient() : new HttpClient(traffic);
        http.BaseAddress = BaseAddress;
        http.DefaultRequestHeaders.Authorization = new("Bearer", Key);
        return http;
    }

    /// <summary>Retries as the defaults do, but with short waits: tests wait for things to happen, not for backoff.</summary>
    public static RetryPolicy Fast => new() { MaxAttempts = 20, BaseDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromSeconds(2) };

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Database.DisposeAsync();
    }
}
