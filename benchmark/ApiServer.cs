using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EventSourced.EventStore;

namespace EventSourced.Benchmark;

/// <summary>The service, built in Release, started as a process of its own on a free port.</summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly Process _process;

    private ApiServer(Process process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}";
    }

    public string Url { get; }
    public int Pid => _process.Id;
    public string ConnectionString => _settings["DATABASE_URL"];

    /// <summary>How requests of tenant default authenticate: a key of every role, or the tenant header a trusted gateway sets.</summary>
    public (string Name, string Value) Credential { get; private set; }

    private readonly Dictionary<string, string> _settings = [];

    /// <summary>
    /// Starts the service with API keys, as it runs by default, or trusting a gateway's tenant headers instead
    /// (<paramref name="trustGateway"/>): the two sides of the authentication bench. Rate limits are lifted: the
    /// scenarios measure the service, not its limits.
    /// </summary>
    public static async Task<ApiServer> Start(BenchSettings settings, IDictionary<string, string> extra, bool trustGateway = false)
    {
        var environment = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = settings.ConnectionString,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Error",
            ["Access__RequestsPerSecond"] = "100000000",
            ["Access__Burst"] = "100000000",
            ["Access__MaxStreamsPerTenant"] = "1000000",
            ["Access__TrustGatewayHeaders"] = trustGateway ? "true" : "false",
        };
        foreach (var (key, value) in extra)
            environment[key] = value;
        var server = await Start(environment);
        server.Credential = trustGateway ? ("X-Tenant-Id", Tenants.Default) : ("Authorization", $"Bearer {await server.CreateKey(Tenants.Default)}");
        return server;
    }

    /// <summary>A client of <paramref name="tenant"/> with every role.</summary>
    public async Task<HttpClient> Client(string tenant = Tenants.Default, int connections = 256)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromMinutes(10) };
        var (name, value) = tenant == Tenants.Default ? Credential
            : Credential.Name == "X-Tenant-Id" ? ("X-Tenant-Id", tenant) : ("Authorization", $"Bearer {await CreateKey(tenant)}");
        client.DefaultRequestHeaders.Add(name, value);
        if (name == "X-Tenant-Id")
            client.DefaultRequestHeaders.Add("X-Roles", "client,worker,auditor,admin");
        return client;
    }

    /// <summary>A key of every role, made as an operator makes one: `keys create`, its output the key.</summary>
    private async Task<string> CreateKey(string tenant)
    {
        var info = Info(["keys", "create", "--tenant", tenant, "--role", "client,worker,auditor,admin", "--job-types", "*"]);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.TrimEntries).SingleOrDefault(l => l.StartsWith("esk_", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("keys create made no key: " + await process.StandardError.ReadToEndAsync());
    }

    private static ProcessStartInfo Info(string[] arguments, IDictionary<string, string> environment)
    {
        var dll = Path.Combine(RepositoryRoot(), "src", "Api", "bin", "Release", "net10.0", "EventSourced.Api.dll");
        var info = new ProcessStartInfo("dotnet", [dll, .. arguments])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        return info;
    }

    private ProcessStartInfo Info(string[] arguments) => Info(arguments, _settings);

    private static async Task<ApiServer> Start(Dictionary<string, string> environment)
    {
        var port = FreePort();
        var process = Process.Start(Info(["--urls", $"http://127.0.0.1:{port}"], environment))!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Report.Say("api: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var server = new ApiServer(process, port);
        foreach (var (key, value) in environment)
            server._settings[key] = value;
        using var client = new HttpClient();
        for (var i = 0; i < 600; i++)
        {
            try
            {
                if ((await client.GetAsync(server.Url + "/health")).StatusCode == HttpStatusCode.OK)
                    return server;
            }
            catch (HttpRequestException)
            {
            }
            if (process.HasExited)
                throw new InvalidOperationException("The API exited at start-up.");
            await Task.Delay(100);
        }
        throw new TimeoutException("The API did not answer /health.");
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EventSourced.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("EventSourced.sln not found.");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
