using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using EventSourced.EventStore;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenarios 4 and 5, through real HTTP driven by wrk: submitting jobs (a fresh Idempotency-Key per
/// request) and reading their status, 64 connections each. The jobs are of a type only external
/// workers run, so the figures are those of accepting and answering, not of running jobs.
/// </summary>
public static partial class HttpScenarios
{
    private const int Connections = 64;
    private static readonly TimeSpan HttpWarmup = TimeSpan.FromSeconds(15);

    private static readonly Dictionary<string, string> NoopType = new() { ["Jobs__Types__noop__External"] = "true" };

    public static async Task Run(BenchSettings settings)
    {
        if (settings.Runs("submit") || settings.Runs("status"))
        {
            await using var api = await ApiServer.Start(settings, NoopType);
            if (settings.Runs("submit"))
                Report.Result("submit", Figures(await Submit(settings, api), api.Pid));
            if (settings.Runs("status"))
                Report.Result("status", Figures(await Status(settings, api), api.Pid));
        }

        // The cost of API keys: the same submit and status, checking keys and trusting a gateway's tenant header instead,
        // each on a fresh database, in the order keys, gateway, gateway, keys, so that drift of a shared machine evens out.
        if (settings.Runs("auth"))
        {
            var rates = new Dictionary<string, List<double>>();
            foreach (var gateway in new[] { false, true, true, false })
            {
                var mode = gateway ? "gateway" : "keys";
                await using var api = await ApiServer.Start(await settings.WithFreshDatabase("bench_auth"), NoopType, trustGateway: gateway);
                var submit = await Submit(settings, api);
                Report.Result($"auth_{mode}_submit", Figures(submit, api.Pid));
                var status = await Status(settings, api);
                Report.Result($"auth_{mode}_status", Figures(status, api.Pid));
                foreach (var (name, rate) in new[] { ($"{mode}_submit", submit.OpsPerSecond), ($"{mode}_status", status.OpsPerSecond) })
                    (rates.TryGetValue(name, out var list) ? list : rates[name] = []).Add(rate);
            }
            Report.Result("auth", ("submit_keys_vs_gateway", rates["keys_submit"].Average() / rates["gateway_submit"].Average()),
                ("status_keys_vs_gateway", rates["keys_status"].Average() / rates["gateway_status"].Average()));
        }
    }

    /// <summary>A wrk run's figures, with the resident memory of the server process <paramref name="pid"/>.</summary>
    internal static (string, object)[] Figures(WrkResult result, int pid) =>
        [("ops_per_s", result.OpsPerSecond), ("p50_ms", result.P50), ("p99_ms", result.P99), ("rss_mb", Report.RssMb(pid)), ("errors", result.Errors)];

    private static Task<WrkResult> Submit(BenchSettings settings, ApiServer api) =>
        Wrk(settings, api.Url, "submit", SubmitScript("/jobs", """{"type":"noop","input":{"fileId":"bench"}}""", Credential(api)));

    private static async Task<WrkResult> Status(BenchSettings settings, ApiServer api) =>
        await Wrk(settings, api.Url, "status", StatusScript(await JobIds(api.ConnectionString, 20_000), Credential(api)));

    /// <summary>POSTs <paramref name="body"/> to <paramref name="path"/> with a fresh Idempotency-Key each time, and <paramref name="headers"/> (Lua table entries).</summary>
    internal static string SubmitScript(string path, string body, string headers) => $$"""
        local counter = 0
        local body = '{{body}}'
        function setup(thread) thread:set("prefix", tostring(math.random(1, 2^31)) .. "-" .. tostring(os.time())) end
        request = function()
          counter = counter + 1
          return wrk.format("POST", "{{path}}", { ["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. "-" .. counter, {{headers}} }, body)
        end
        """;

    /// <summary>GETs /jobs/{id} over <paramref name="ids"/>, each thread from a random one on, with <paramref name="headers"/> (Lua table entries).</summary>
    internal static string StatusScript<T>(IEnumerable<T> ids, string headers) => $$"""
        local ids = { {{string.Join(",", ids.Select(id => $"\"{id}\""))}} }
        local i = 0
        function setup(thread) thread:set("offset", math.random(1, #ids)) end
        request = function()
          i = i + 1
          return wrk.format("GET", "/jobs/" .. ids[(i + offset) % #ids + 1], { {{headers}} })
        end
        """;

    /// <summary>The request's credential as a Lua table entry.</summary>
    private static string Credential(ApiServer api) => $"[\"{api.Credential.Name}\"] = \"{api.Credential.Value}\"";

    /// <summary>Jobs to read: those the submit scenario made (status needs it to have run first).</summary>
    private static async Task<List<Guid>> JobIds(string connectionString, int limit)
    {
        await using var dataSource = PostgresDataSource.Create(connectionString);
        await using var command = dataSource.CreateCommand("SELECT id FROM jobs.mt_doc_job_status ORDER BY random() LIMIT $1");
        command.Parameters.Add(new() { Value = limit });
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetGuid(0));
        return ids.Count > 0 ? ids : throw new InvalidOperationException("No jobs to read: run the submit scenario first (./bench submit status).");
    }

    internal sealed record WrkResult(double OpsPerSecond, double P50, double P99, long Errors);

    /// <summary>Runs wrk's Lua <paramref name="script"/> against <paramref name="url"/> at 64 connections: warm-up, then the measured time.</summary>
    internal static async Task<WrkResult> Wrk(BenchSettings settings, string url, string name, string script)
    {
        var file = Path.Combine(Path.GetTempPath(), $"wrk-{name}-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(file, script);
        try
        {
            // Warm up, then measure: under load the tiered JIT takes about 15 s to settle (status went
            // from 4,400 to 9,200 requests/s over its first 20 s), and a server runs for longer than that.
            await RunWrk(file, url, settings.Warmup > HttpWarmup ? settings.Warmup : HttpWarmup);
            return Parse(await RunWrk(file, url, settings.Duration));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<string> RunWrk(string script, string url, TimeSpan duration)
    {
        var info = new ProcessStartInfo("wrk", ["-t", "2", "-c", Connections.ToString(CultureInfo.InvariantCulture),
            "-d", $"{(int)Math.Max(1, duration.TotalSeconds)}s", "--latency", "-s", script, url])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException("wrk failed: " + await process.StandardError.ReadToEndAsync());
    }

    private static WrkResult Parse(string output)
    {
        double Latency(string percentile)
        {
            var match = Regex.Match(output, $@"^\s*{percentile}%\s+([\d.]+)(us|ms|s)", RegexOptions.Multiline);
            var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
        }
        var rate = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = NonSuccess().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new WrkResult(rate, Latency("50"), Latency("99"), errors);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();
}
