using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Client.Tests;

/// <summary>
/// The worker quick start of docs/clients/dotnet.md, compiled as written and run as an app of its own (as `dotnet run`
/// would), against the real service: it runs a submitted job to its result, and stops cleanly on SIGTERM.
/// </summary>
public sealed class WorkerQuickStartTests(Service service, ITestOutputHelper output) : IClassFixture<Service>
{
    [Fact]
    public async Task The_worker_quick_start_compiles_as_written_runs_a_job_and_stops_on_SIGTERM()
    {
        var code = await QuickStartTests.CSharpBlockUnder("## Worker quick start", service.BaseAddress);
        var app = Directory.CreateTempSubdirectory("worker-quick-start-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(app.FullName, "QuickStart.dll"), QuickStartTests.Compile(code));
            // The host comes from the shared framework here; the app of the page gets it from the Microsoft.Extensions.Hosting package.
            await File.WriteAllTextAsync(Path.Combine(app.FullName, "QuickStart.runtimeconfig.json"),
                """{"runtimeOptions": {"tfm": "net10.0", "framework": {"name": "Microsoft.AspNetCore.App", "version": "10.0.0"}}}""");
            File.Copy(typeof(JobWorker).Assembly.Location, Path.Combine(app.FullName, Path.GetFileName(typeof(JobWorker).Assembly.Location)));

            using var worker = Start(Path.Combine(app.FullName, "QuickStart.dll"));
            var printed = new StringBuilder();
            worker.OutputDataReceived += (_, e) => { lock (printed) printed.AppendLine(e.Data); };
            worker.ErrorDataReceived += (_, e) => { lock (printed) printed.AppendLine(e.Data); };
            worker.BeginOutputReadLine();
            worker.BeginErrorReadLine();
            try
            {
                var job = await service.Client().SubmitAsync("thumbnail", new { fileId = "img-1" });

                var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);

                Assert.Equal(JobStatuses.Completed, state.Status);
                Assert.Equal("https://cdn.example/img-1.png", (await job.GetResultAsync<JsonElement>()).GetProperty("url").GetString());
                var history = await job.GetHistoryAsync();
                Assert.Contains(history.Events, e => e.Type == "job.progressed" && e.Data.GetProperty("percent").GetInt32() == 50);

                using var term = Process.Start("kill", ["-TERM", worker.Id.ToString(CultureInfo.InvariantCulture)]);
                await term.WaitForExitAsync();
                using var bound = new CancellationTokenSource(Patience.Bound);
                await worker.WaitForExitAsync(bound.Token);
                Assert.Equal(0, worker.ExitCode);
            }
            finally
            {
                if (!worker.HasExited)
                    worker.Kill();
                lock (printed)
                    output.WriteLine(printed.ToString());
            }
        }
        finally
        {
            app.Delete(recursive: true);
        }
    }

    private Process Start(string dll)
    {
        var info = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["KEY"] = service.Key;
        return Process.Start(info)!;
    }
}
