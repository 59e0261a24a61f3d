using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Client.Tests;

/// <summary>
/// The worker host as an app of its own, against the real service: the worker quick start of docs/clients/dotnet.md
/// compiled as written (as `dotnet run` would build it) runs a job and stops cleanly on SIGTERM; a worker killed with
/// kill -9 in the middle of a job loses nothing: the job runs again once its lease runs out, and completes once.
/// </summary>
public sealed class WorkerProcessTests(Service service, ITestOutputHelper output) : IClassFixture<Service>
{
    [Fact]
    public async Task The_worker_quick_start_compiles_as_written_runs_a_job_and_stops_on_SIGTERM()
    {
        var code = await QuickStartTests.CSharpBlockUnder("## Worker quick start", service.BaseAddress);
        await using var app = await WorkerApp.Start(code, service.Key, output);

        var job = await service.Client().SubmitAsync("thumbnail", new { fileId = "img-1" });

        var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);
        Assert.Equal(JobStatuses.Completed, state.Status);
        Assert.Equal("https://cdn.example/img-1.png", (await job.GetResultAsync<JsonElement>()).GetProperty("url").GetString());
        var history = await job.GetHistoryAsync();
        Assert.Contains(history.Events, e => e.Type == "job.progressed" && e.Data.GetProperty("percent").GetInt32() == 50);
        Assert.Equal(0, await app.Terminate());
    }

    [Fact]
    public async Task A_worker_killed_in_the_middle_of_a_job_loses_it_not_the_job_runs_again_after_its_lease_and_completes_once()
    {
        var hanging = $$"""
            using EventSourced.Client;
            using Microsoft.Extensions.Hosting;

            var builder = Host.CreateApplicationBuilder(args);
            builder.Services.AddJobWorker(worker =>
            {
                worker.BaseAddress = new Uri("{{service.BaseAddress}}");
                worker.ApiKey = Environment.GetEnvironmentVariable("KEY");
                worker.LeaseDuration = TimeSpan.FromSeconds(5);
                worker.Handle("killed", async (input, job, ct) =>
                {
                    Console.WriteLine($"started {job.JobId}");
                    await Task.Delay(Timeout.Infinite, ct);
                    return null;
                });
            });
            await builder.Build().RunAsync();
            """;
        var job = await service.Client().SubmitAsync("killed", new { n = 1 }, new SubmitOptions { MaxAttempts = 3 });
        await using (var app = await WorkerApp.Start(hanging, service.Key, output))
        {
            await Eventually.Get(() => Task.FromResult(app.Printed), printed => printed.Contains($"started {job.Id}", StringComparison.Ordinal), "the worker to start the job");
            app.Kill();
        }

        var worker = new JobWorker(new JobWorkerOptions
        {
            BaseAddress = service.BaseAddress, ApiKey = service.Key, Retry = Service.Fast, ClaimWait = TimeSpan.FromSeconds(5),
        }.Handle("killed", (_, attempt, _) => Task.FromResult<object?>(new { attempt = attempt.Attempt })));
        await worker.StartAsync(CancellationToken.None);
        try
        {
            var state = await job.WaitForCompletionAsync().WaitAsync(Patience.Bound);
            Assert.Equal((JobStatuses.Completed, 2), (state.Status, state.Attempt));
        }
        finally
        {
            await worker.StopAsync(CancellationToken.None);
            worker.Dispose();
        }
        var events = (await job.GetHistoryAsync()).Events.Select(e => e.Type).ToList();
        Assert.Single(events, "job.attempt_failed");
        Assert.Single(events, "job.completed");
    }

    /// <summary>A worker app compiled from <c>code</c> and run as `dotnet` runs it, with the key in KEY.</summary>
    private sealed class WorkerApp : IAsyncDisposable
    {
        private readonly DirectoryInfo _folder;
        private readonly Process _process;
        private readonly StringBuilder _printed = new();
        private readonly ITestOutputHelper _output;

        private WorkerApp(DirectoryInfo folder, Process process, ITestOutputHelper output)
        {
            _folder = folder;
            _process = process;
            _output = output;
        }

        public string Printed
        {
            get
            {
                lock (_printed)
                    return _printed.ToString();
            }
        }

        public static async Task<WorkerApp> Start(string code, string key, ITestOutputHelper output)
        {
            var folder = Directory.CreateTempSubdirectory("worker-app-");
            await File.WriteAllBytesAsync(Path.Combine(folder.FullName, "QuickStart.dll"), QuickStartTests.Compile(code));
            // The host comes from the shared framework here; the page's app gets it from the Microsoft.Extensions.Hosting package.
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, "QuickStart.runtimeconfig.json"),
                """{"runtimeOptions": {"tfm": "net10.0", "framework": {"name": "Microsoft.AspNetCore.App", "version": "10.0.0"}}}""");
            var client = typeof(JobWorker).Assembly.Location;
            File.Copy(client, Path.Combine(folder.FullName, Path.GetFileName(client)));

            var info = new ProcessStartInfo("dotnet", [Path.Combine(folder.FullName, "QuickStart.dll")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.Environment["KEY"] = key;
            var app = new WorkerApp(folder, new Process { StartInfo = info }, output);
            app._process.OutputDataReceived += (_, e) => app.Append(e.Data);
            app._process.ErrorDataReceived += (_, e) => app.Append(e.Data);
            app._process.Start();
            app._process.BeginOutputReadLine();
            app._process.BeginErrorReadLine();
            return app;
        }

        /// <summary>SIGTERM, as an orchestrator stops an app; returns its exit code.</summary>
        public async Task<int> Terminate()
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
                await term.WaitForExitAsync();
            using var bound = new CancellationTokenSource(Patience.Bound);
            await _process.WaitForExitAsync(bound.Token);
            return _process.ExitCode;
        }

        /// <summary>kill -9: no shutdown, no release.</summary>
        public void Kill() => _process.Kill(entireProcessTree: true);

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
            _output.WriteLine(Printed);
            _folder.Delete(recursive: true);
        }

        private void Append(string? line)
        {
            if (line is null)
                return;
            lock (_printed)
                _printed.AppendLine(line);
        }
    }
}
