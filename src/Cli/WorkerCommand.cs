using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EventSourced.Client;
using Microsoft.Extensions.Logging;

namespace EventSourced.Cli;

/// <summary>
/// worker TYPE...: the client's worker host (<see cref="JobWorker"/>: claims, heartbeats, cancellation, release on stop)
/// with a shell command as the handler, so an external job type can be run by any program, one process per job.
/// </summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var types = new Argument<string[]>("types") { Description = "The external job types to run.", Arity = ArgumentArity.OneOrMore };
        var run = new Option<string>("--run")
        {
            Description = "The command run with sh -c for each job: the job's input on its stdin, JOB_ID, JOB_TYPE and JOB_ATTEMPT in its environment. "
                + "Exit 0 completes the job with what it printed (JSON, else {\"output\": text} without the text's trailing newlines); any other exit fails the attempt, which is retried.",
            Required = true,
        };
        var concurrency = new Option<int>("--concurrency") { Description = "Jobs run at once (default 1).", DefaultValueFactory = _ => 1 };
        var command = new Command("worker", "Run external job types with a shell command, one process per job, until Ctrl+C (unfinished jobs are handed back).")
        {
            types, run, concurrency,
        };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            var shell = parsed.GetValue(run)!;
            var options = new JobWorkerOptions
            {
                BaseAddress = client.Transport.Options.BaseAddress,
                ApiKey = client.Transport.Options.ApiKey,
                Concurrency = parsed.GetValue(concurrency),
            };
            foreach (var type in parsed.GetValue(types)!)
                options.Handle(type, (input, job, jobCt) => Execute(shell, input, job, jobCt));
            using var worker = new JobWorker(options, new StderrLogger());
            await worker.StartAsync(ct);
            await Console.Error.WriteLineAsync($"Running {string.Join(", ", options.Handlers.Keys)} with: {shell}");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM, the way a worker is meant to stop: its unfinished jobs are released for another worker.
            }
            await worker.StopAsync(CancellationToken.None);
            return ExitCodes.Completed;
        }));
        return command;
    }

    private static async Task<object?> Execute(string shell, JsonElement input, JobContext job, CancellationToken ct)
    {
        var info = new ProcessStartInfo("sh", ["-c", shell]) { RedirectStandardInput = true, RedirectStandardOutput = true };
        info.Environment["JOB_ID"] = job.JobId.ToString();
        info.Environment["JOB_TYPE"] = job.Type;
        info.Environment["JOB_ATTEMPT"] = job.Attempt.ToString(CultureInfo.InvariantCulture);
        await Console.Error.WriteLineAsync($"Job {job.JobId} attempt {job.Attempt}: running.");
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        await process.StandardInput.WriteAsync(input.GetRawText());
        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            // Cancelled, or the worker stopping: the command stops too, and the worker hands the job back.
            process.Kill(entireProcessTree: true);
            throw;
        }
        var printed = await output;
        if (process.ExitCode != 0)
            throw new JobFailedException("command_failed", $"The command exited with {process.ExitCode}.");
        try
        {
            return JsonSerializer.Deserialize<JsonElement>(printed);
        }
        catch (JsonException)
        {
            // As a shell's $(...) takes a command's output: `echo done` means "done", not "done\n".
            return new { output = printed.TrimEnd('\n') };
        }
    }

    /// <summary>The worker host's own account of each job (claimed, recorded, failed, lease lost) on stderr.</summary>
    private sealed class StderrLogger : ILogger<JobWorker>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                Console.Error.WriteLine($"{logLevel}: {formatter(state, exception)}");
        }
    }
}
