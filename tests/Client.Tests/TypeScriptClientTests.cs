using System.Diagnostics;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Client.Tests;

/// <summary>
/// The TypeScript client (clients/typescript) against the real service: its own tests under Node's test runner (the fault
/// proxy's cases, the types against the contract, the quick start of docs/clients/typescript.md as written), and a page
/// in Debian's chromium that uses it across origins (tests/browser/typescript-client.test.mjs). Fails with what node printed,
/// and shows it always: the tests report what they measured.
/// </summary>
public sealed class TypeScriptClientTests(Service service, ITestOutputHelper output) : IClassFixture<Service>
{
    private static readonly string Package = Path.Combine(Repository.Root.FullName, "clients", "typescript");

    [Fact]
    public async Task The_client_passes_its_node_tests_against_the_real_service()
    {
        var tests = Directory.GetFiles(Path.Combine(Package, "test"), "*.test.mjs").Order(StringComparer.Ordinal);
        var info = new ProcessStartInfo("node", ["--test", "--test-reporter=spec", .. tests]) { WorkingDirectory = Package };
        var (status, printed) = await Run(info);
        Assert.True(status == 0, $"node --test clients/typescript/test exited with {status}:\n{printed}");
    }

    [Fact]
    public async Task In_chromium_the_client_follows_a_job_across_origins_to_its_end()
    {
        var info = new ProcessStartInfo(Path.Combine(Repository.Root.FullName, "tests", "browser", "run"), ["typescript-client.test.mjs"]);
        info.Environment["PAGE_PORT"] = service.BrowserPagePort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (status, printed) = await Run(info);
        Assert.True(status == 0, $"tests/browser/run typescript-client.test.mjs exited with {status}:\n{printed}");
    }

    private async Task<(int ExitCode, string Output)> Run(ProcessStartInfo info)
    {
        info.Environment["BASE_URL"] = service.BaseAddress.ToString();
        info.Environment["API_KEY"] = service.Key;
        var (status, printed) = await ChildProcess.Run(info, Patience.ProcessStart);
        output.WriteLine(printed);
        return (status, printed);
    }
}
