using System.Diagnostics;
using System.IO.Compression;
using EventSourced.TestSupport;

namespace EventSourced.Client.Tests;

/// <summary>
/// The command-line tool's package, made as docs/clients/cli.md says, installed as a .NET tool, run by its name, and
/// replaced by a newer pack as the page says.
/// </summary>
public sealed class CommandLinePackageTests
{
    [Fact]
    public async Task The_tool_packs_as_a_dotnet_tool_that_installs_from_a_folder_runs_as_jobsctl_and_reinstalls_from_a_newer_pack()
    {
        var folder = Directory.CreateTempSubdirectory("jobsctl-pack-");
        try
        {
            var packages = Path.Combine(folder.FullName, "packages");
            await Pack(packages, "first");

            var package = Assert.Single(Directory.GetFiles(packages, "EventSourced.Cli.*.nupkg"));
            using (var zip = ZipFile.OpenRead(package))
            {
                Assert.Contains(zip.Entries, e => e.FullName == "tools/net10.0/any/jobsctl.dll");
                Assert.Contains(zip.Entries, e => e.FullName == "tools/net10.0/any/EventSourced.Client.dll");
                using var settings = new StreamReader(zip.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open());
                Assert.Contains("<Command Name=\"jobsctl\"", await settings.ReadToEndAsync(), StringComparison.Ordinal);
            }

            // Offline: the folder is the only source the install may use.
            var config = Path.Combine(folder.FullName, "nuget.config");
            await File.WriteAllTextAsync(config, $"""
                <configuration><packageSources><clear /><add key="local" value="{packages}" /></packageSources></configuration>
                """);
            var tools = Path.Combine(folder.FullName, "tools");
            await Tool(["install", "EventSourced.Cli", "--tool-path", tools, "--configfile", config]);

            var (helped, help) = await ChildProcess.Run(new ProcessStartInfo(Path.Combine(tools, "jobsctl"), ["--help"]), Patience.Bound);
            Assert.True(helped == 0, help);
            Assert.Contains("jobsctl [command] [options]", help, StringComparison.Ordinal);
            Assert.Contains("submit <type>", help, StringComparison.Ordinal);

            // A newer build, taken as the page says: packed again at the same version, uninstalled, installed again. Here the
            // build is the same one, told apart by its release notes; pack would skip it as up to date unless the first is gone.
            File.Delete(package);
            await Pack(packages, "second");
            await Tool(["uninstall", "EventSourced.Cli", "--tool-path", tools]);
            await Tool(["install", "EventSourced.Cli", "--tool-path", tools, "--configfile", config]);
            var installed = Assert.Single(Directory.GetFiles(tools, "*.nuspec", SearchOption.AllDirectories));
            Assert.Contains("<releaseNotes>second</releaseNotes>", await File.ReadAllTextAsync(installed), StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Packs the tool into <paramref name="packages"/>, told apart from another pack of it by its release notes.</summary>
    private static async Task Pack(string packages, string releaseNotes)
    {
        // --no-build: the tool as the tests built it, and no second build writing where other tests run it.
        var (packed, output) = await ChildProcess.Run(new ProcessStartInfo("dotnet",
            ["pack", Path.Combine(Repository.Root.FullName, "src", "Cli"), "--no-build", "-c", CommandLineTests.Configuration, "-o", packages,
                $"-p:PackageReleaseNotes={releaseNotes}"]), Patience.ProcessStart);
        Assert.True(packed == 0, output);
    }

    private static async Task Tool(string[] arguments)
    {
        var (exitCode, output) = await ChildProcess.Run(new ProcessStartInfo("dotnet", ["tool", .. arguments]), Patience.ProcessStart);
        Assert.True(exitCode == 0, output);
    }
}
