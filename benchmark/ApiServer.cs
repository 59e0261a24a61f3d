using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

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

    public static async Task<ApiServer> Start(BenchSettings settings, IDictionary<string, string> extra)
    {
        var port = FreePort();
        var dll = Path.Combine(RepositoryRoot(), "src", "Api", "bin", "Release", "net10.0", "EventSourced.Api.dll");
        var info = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["DATABASE_URL"] = settings.ConnectionString,
                ["Logging__LogLevel__Default"] = "Warning",
                ["Logging__LogLevel__Microsoft.AspNetCore"] = "Error",
            },
        };
        foreach (var (key, value) in extra)
            info.Environment[key] = value;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Report.Say("api: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var server = new ApiServer(process, port);
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
