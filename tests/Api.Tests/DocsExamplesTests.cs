using System.Diagnostics;
using System.Text.RegularExpressions;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// The examples a newcomer copies first, run as written: every `sh` block of the page, in order, in one bash script, against
/// the real service set up as ./run sets it up on its local database (a key in .postgres/dev-key, a callback secret, the
/// provider demo). Only the address is changed, to the test server's. Blocks that run the repository's own scripts (./run,
/// ./test) are left out.
/// </summary>
public sealed partial class DocsExamplesTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    [Theory]
    [InlineData("README.md", "job.completed")]
    [InlineData("docs/clients/api-guide.md", "\"duplicate\":false")]
    public async Task Every_shell_example_of_the_page_runs_as_written_against_a_real_server(string page, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = db.ConnectionString,
            ["Webhooks:Secrets:default"] = Secret,
            ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
            ["Webhooks:Providers:demo:Secrets"] = Secret,
        };
        var (_, created) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "default", "--role", "client,worker,auditor,admin", "--job-types", "*");
        var key = created.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal));
        await using var api = await ApiProcess.StartHealthy(settings);
        var folder = Directory.CreateTempSubdirectory("docs-examples-");
        try
        {
            Directory.CreateDirectory(Path.Combine(folder.FullName, ".postgres"));
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, ".postgres", "dev-key"), key + "\n");
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, ".postgres", "webhook-secret"), Secret + "\n");
            var blocks = ShellBlocks(await File.ReadAllTextAsync(Path.Combine(Repository.Root.FullName, page)));
            Assert.NotEmpty(blocks);
            var script = string.Join("\n", blocks).Replace("http://127.0.0.1:5000", api.BaseAddress.ToString().TrimEnd('/'), StringComparison.Ordinal);

            var (exitCode, output, requests) = await Run(script, folder.FullName, key);

            Assert.True(exitCode == 0, $"The examples of {page} stopped with exit code {exitCode}:\n{output}\n{requests}");
            var refused = requests.Split('\n').Where(r => RefusedRequest().IsMatch(r)).ToList();
            Assert.True(refused.Count == 0, $"Requests of {page} failed as no example should:\n{string.Join("\n", refused)}\n\n{output}");
            Assert.Contains(expected, output, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The `sh` blocks of a Markdown page, but those that run ./run or ./test.</summary>
    private static List<string> ShellBlocks(string markdown) =>
    [
        .. ShellBlock().Matches(markdown).Select(m => m.Groups[1].Value)
            .Where(block => !block.Split('\n').Any(line => line.StartsWith("./run", StringComparison.Ordinal) || line.StartsWith("./test", StringComparison.Ordinal))),
    ];

    /// <summary>
    /// Runs the script with bash, stopping at the first failure, with every curl reporting its status on a side channel:
    /// its exit code, what it printed, and one line per request ("HTTP 202 POST http://...").
    /// </summary>
    private static async Task<(int ExitCode, string Output, string Requests)> Run(string script, string folder, string key)
    {
        var requests = Path.Combine(folder, ".requests");
        var info = new ProcessStartInfo("bash", ["-c", $$"""
            set -euo pipefail
            curl() { command curl --write-out '%{stderr}HTTP %{http_code} %{method} %{url_effective}\n' "$@" 2>> "{{requests}}"; }
            {{script}}
            """])
        {
            WorkingDirectory = folder,
        };
        // The API guide's examples assume the key of the README's quick start.
        info.Environment["KEY"] = key;
        var (exitCode, output) = await ChildProcess.Run(info, Patience.Bound);
        return (exitCode, output, File.Exists(requests) ? await File.ReadAllTextAsync(requests) : "");
    }

    [GeneratedRegex(@"^```sh\n(.*?)^```$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex ShellBlock();

    /// <summary>An answer that means the example is wrong: a server error, or a refusal of the request as written (412 is a race it documents).</summary>
    [GeneratedRegex(@"^HTTP (5\d\d|400|401|403|404|405|413|415|422|429) ")]
    private static partial Regex RefusedRequest();
}
