using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EventSourced.TestSupport;

/// <summary>Which build to start: the service itself, or the test host (the service plus test-only job types).</summary>
public enum Host
{
    Service,
    TestHost,
}

/// <summary>The real server, started from its build output as a process of its own on a free port.</summary>
public sealed class ApiProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ApiProcess(Process process, int port)
    {
        _process = process;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri BaseAddress { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>
    /// A client of this server (or of a proxy in front of it, <paramref name="through"/>) whose every answer is checked against the
    /// OpenAPI document the server serves, as the in-process tests' clients are: a documented status for the route, a problem code
    /// that status lists, a body that matches its schema. A breach fails the request with what was wrong.
    /// </summary>
    public HttpClient CreateClient(Uri? through = null, HttpMessageHandler? handler = null) =>
        new(new ContractCheckingHandler(Contract) { InnerHandler = handler ?? new SocketsHttpHandler() }) { BaseAddress = through ?? BaseAddress };

    /// <summary>The document this server serves at /openapi/v1.json (asked once, straight from the server).</summary>
    public Task<ContractCheck> Contract(CancellationToken ct)
    {
        lock (_output)
        {
            return _contract ??= Fetch();
        }

        async Task<ContractCheck> Fetch()
        {
            using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            return new ContractCheck(await client.GetStringAsync("/openapi/v1.json", CancellationToken.None));
        }
    }

    private Task<ContractCheck>? _contract;

    /// <summary>Starts the server with these settings (environment variables) and does not wait for it.</summary>
    public static ApiProcess Start(IDictionary<string, string?> settings, int? port = null, Host host = Host.Service)
    {
        port ??= FreePort();
        return Start(settings, port.Value, host, ["--urls", $"http://127.0.0.1:{port}"]);
    }

    /// <summary>Runs one of the service's commands (rebuild, say) to its end: its exit code and what it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunCommand(IDictionary<string, string?> settings, params string[] command)
    {
        await using var process = Start(settings, 0, Host.Service, command);
        var exitCode = await process.WaitForExit(Patience.Bound);
        return (exitCode, process.Output);
    }

    private static ApiProcess Start(IDictionary<string, string?> settings, int port, Host host, string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet", [Dll(host), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment.Remove("ConnectionStrings__Postgres");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        foreach (var (key, value) in settings)
            info.Environment[key] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var api = new ApiProcess(process, port);
        process.OutputDataReceived += (_, e) => api.Append(e.Data);
        process.ErrorDataReceived += (_, e) => api.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return api;
    }

    /// <summary>Starts the server and waits until /health answers 200.</summary>
    public static async Task<ApiProcess> StartHealthy(IDictionary<string, string?> settings, int? port = null, Host host = Host.Service)
    {
        var api = Start(settings, port, host);
        try
        {
            await api.WaitUntilHealthy();
            // Asked now, so that a test's first request (timed against a job's steps, say) does not wait for the document.
            await api.Contract(CancellationToken.None);
            return api;
        }
        catch
        {
            await api.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until /health answers 200; throws with what the server printed when it exited instead.</summary>
    public async Task WaitUntilHealthy()
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.Get(async () =>
        {
            if (HasExited)
                throw new InvalidOperationException($"The server exited at start-up:\n{Output}");
            try
            {
                return (await client.GetAsync("/health")).StatusCode;
            }
            // Refused (not listening yet), or slow to answer (a busy machine): ask again.
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return HttpStatusCode.ServiceUnavailable;
            }
        }, status => status == HttpStatusCode.OK, "the server to answer /health", Patience.ProcessStart);
    }

    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    /// <summary>Asks it to stop, as an orchestrator does (SIGTERM): it drains and hands back unfinished work.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Kills it at once, as kill -9 would: no drain, no clean-up.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
    }

    /// <summary>The build output in the same configuration as the tests (./test builds all of them).</summary>
    private static string Dll(Host host)
    {
        var testOutput = AppContext.BaseDirectory;
        var configuration = testOutput.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var root = Repository.Root;
        var dll = host == Host.Service
            ? Path.Combine(root.FullName, "src", "Api", "bin", configuration, "net10.0", "EventSourced.Api.dll")
            : Path.Combine(root.FullName, "tests", "TestHost", "bin", configuration, "net10.0", "EventSourced.TestHost.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"Build it first: {dll} is missing.");
    }
}
