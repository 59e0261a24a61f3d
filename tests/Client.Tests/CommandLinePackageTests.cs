using System.Diagnostics;
using System.IO.Compression;
using EventSourced.TestSupport;

namespace EventSourced.Client.Tests;

/// <summary>The command-line tool's package, made as docs/clients/cli.md says, installed as a .NET tool and run by its name.</summary>
public sealed class CommandLinePackageTests
{
    [Fact]
    public async Task The_tool_packs_as_a_dotnet_tool_that_installs_from_a_folder_and_runs_as_jobsctl()
    {
        var folder = Directory.CreateTempSubdirectory("jobsctl-pack-");
        try
        {
            var packages = Path.Combine(folder.FullName, "packages");
            // --no-build: the tool as the tests built it, and no second build writing where other tests run it.
            var (packed, packOutput) = await ChildProcess.Run(new ProcessStartInfo("dotnet",
                ["pack", Path.Combine(Repository.Root.FullName, "src", "Cli"), "--no-build", "-c", CommandLineTests.Configuration, "-o", packages]), Patience.ProcessStart);
            Assert.True(packed == 0, packOutput);

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
            var (installed, installOutput) = await ChildProcess.Run(new ProcessStartInfo("dotnet",
                ["tool", "install", "EventSourced.Cli", "--tool-path", tools, "--configfile", config]), Patience.ProcessStart);
            Assert.True(installed == 0, installOutput);

            var (helped, help) = await ChildProcess.Run(new ProcessStartInfo(Path.Combine(tools, "jobsctl"), ["--help"]), Patience.Bound);
            Assert.True(helped == 0, help);
            Assert.Contains("jobsctl [command] [options]", help, StringComparison.Ordinal);
            Assert.Contains("submit <type>", help, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
