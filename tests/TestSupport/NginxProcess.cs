using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace EventSourced.TestSupport;

/// <summary>
/// Debian's nginx (installed by tests/install-tools) as a child process on a free port, in front of a running
/// service (or several nodes of it), with the documented proxy settings (deploy/nginx/eventsourced-proxy.conf) included
/// as they are. Only what a test machine needs around them is generated here: the port, the upstream, and files under a
/// folder of its own. Disposing it stops nginx, its workers too, and removes the folder.
/// </summary>
public sealed class NginxProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _folder;
    private readonly StringBuilder _output = new();

    private NginxProcess(Process process, DirectoryInfo folder, int port)
    {
        _process = process;
        _folder = folder;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri BaseAddress { get; }

    /// <summary>The documented proxy settings: the file this process includes.</summary>
    public static string ProxySettings => Path.Combine(Repository.Root.FullName, "deploy", "nginx", "eventsourced-proxy.conf");

    /// <summary>What nginx said: its standard streams and its error log.</summary>
    public string Output
    {
        get
        {
            var log = Path.Combine(_folder.FullName, "error.log");
            lock (_output)
                return _output + (File.Exists(log) ? File.ReadAllText(log) : "");
        }
    }

    /// <summary>The answer's header that names the node nginx passed the request to (its address and port), the last one it tried.</summary>
    public const string UpstreamHeader = "X-Upstream";

    /// <summary>
    /// Starts nginx in front of the service's nodes at <paramref name="upstreams"/> (round robin, as an upstream block
    /// of several servers does), with the documented proxy settings unless others are given, and waits until it answers
    /// /health through it.
    /// </summary>
    public static async Task<NginxProcess> StartInFrontOf(IReadOnlyList<Uri> upstreams, string? proxySettings = null)
    {
        proxySettings ??= ProxySettings;
        var folder = Directory.CreateTempSubdirectory("nginx-");
        var port = ApiProcess.FreePort();
        var config = Path.Combine(folder.FullName, "nginx.conf");
        await File.WriteAllTextAsync(config, MainConfig(folder.FullName, port, upstreams, proxySettings));

        var info = new ProcessStartInfo(Binary(), ["-p", folder.FullName + "/", "-c", config, "-g", "daemon off;"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = info };
        var nginx = new NginxProcess(process, folder, port);
        process.OutputDataReceived += (_, e) => nginx.Append(e.Data);
        process.ErrorDataReceived += (_, e) => nginx.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = nginx.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
            await Eventually.Get(async () =>
            {
                if (process.HasExited)
                    throw new InvalidOperationException($"nginx exited at start-up:\n{nginx.Output}");
                try
                {
                    return (await client.GetAsync("/health")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK, "nginx to answer /health from the service", TimeSpan.FromSeconds(30));
        }
        catch
        {
            await nginx.DisposeAsync();
            throw;
        }
        return nginx;
    }

    public async ValueTask DisposeAsync()
    {
        // SIGTERM: the master stops its workers and waits for them, so none is left behind; SIGKILL if it hangs.
        if (!_process.HasExited)
        {
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            await term.WaitForExitAsync();
        }
        using (var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await _process.WaitForExitAsync(stopped.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        _folder.Delete(recursive: true);
    }

    /// <summary>
    /// The main configuration a distribution's nginx.conf and site file would give, cut to a test's needs: every
    /// file under the folder (Debian's build puts temporary files under /var/lib/nginx), and root's workers kept
    /// as root, since they would otherwise switch to a user that cannot read the folder. Each answer names the node that
    /// gave it (<see cref="UpstreamHeader"/>), so that a test can kill the node that serves a given request.
    /// </summary>
    private static string MainConfig(string folder, int port, IReadOnlyList<Uri> upstreams, string proxySettings) => string.Create(CultureInfo.InvariantCulture, $$"""
        {{(Environment.UserName == "root" ? "user root;" : "")}}
        worker_processes 1;
        pid {{folder}}/nginx.pid;
        error_log {{folder}}/error.log notice;
        events { worker_connections 256; }
        http {
            access_log {{folder}}/access.log;
            client_body_temp_path {{folder}}/client_body;
            proxy_temp_path {{folder}}/proxy;
            fastcgi_temp_path {{folder}}/fastcgi;
            uwsgi_temp_path {{folder}}/uwsgi;
            scgi_temp_path {{folder}}/scgi;
            upstream eventsourced {
                {{string.Join(" ", upstreams.Select(u => $"server {u.Authority};"))}}
                keepalive 8;
            }
            server {
                listen 127.0.0.1:{{port}};
                add_header {{UpstreamHeader}} $upstream_addr always;
                include {{proxySettings}};
            }
        }
        """);

    private static string Binary()
    {
        string[] candidates = ["/usr/sbin/nginx", .. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(p => Path.Combine(p, "nginx"))];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed: tests/install-tools installs it (./test runs it first).");
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
    }
}
