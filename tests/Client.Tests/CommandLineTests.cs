using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using EventSourced.TestSupport;

namespace EventSourced.Client.Tests;

/// <summary>
/// The command-line tool (src/Cli) as a user runs it: the built jobsctl.dll as a process of its own, with JOBS_URL and
/// JOBS_API_KEY, against the real service. What it prints on stdout and stderr, and its exit codes.
/// </summary>
public sealed partial class CommandLineTests(Service service) : IClassFixture<Service>
{
    private const string Page = "docs/clients/cli.md";

    [Fact]
    public async Task Submit_then_watch_follows_a_transcode_to_completion_printing_each_event_once_and_exits_0()
    {
        var submitted = await Jobsctl(["submit", "transcode", "--payload", """{"fileId": "cli-movie", "steps": 2, "stepMs": 50}"""]);
        Assert.Equal(0, submitted.ExitCode);
        var id = Guid.Parse(submitted.Output.Trim());
        Assert.Contains($"Location: {new Uri(service.BaseAddress, $"/jobs/{id}")}", submitted.Errors, StringComparison.Ordinal);

        var watched = await Jobsctl(["watch", id.ToString()]);

        Assert.Equal(0, watched.ExitCode);
        var lines = EventLines(watched.Output);
        Assert.Equal("queued", lines[0].Name);
        Assert.Equal(["50%", "100%"], lines.Where(l => l.Name == "progress").Select(l => l.Progress));
        Assert.Equal("completed", lines[^1].Name);
        var history = await service.Client().Job(id).GetHistoryAsync();
        Assert.Equal(history.Events.Select(e => e.Seq), lines.Select(l => l.Sequence));
        var result = await Jobsctl(["result", id.ToString()]);
        Assert.Contains("cli-movie.mp4", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_on_an_80_column_terminal_prints_the_result_s_URL_whole_on_a_line_of_its_own()
    {
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "cli-terminal-with-a-long-name", steps = 1, stepMs = 0 });
        // script(1) gives the tool a terminal (a pseudo-terminal, 80 columns wide), which the other tests' pipes are not.
        var info = new ProcessStartInfo("script", ["--quiet", "--return", "--command", $"stty cols 80 && dotnet '{Tool}' watch {job.Id}", "/dev/null"]);
        info.Environment["JOBS_URL"] = service.BaseAddress.ToString();
        info.Environment["JOBS_API_KEY"] = service.Key;

        // Its input closed: script passes its input on to the terminal, and the test runner's is not the tool's to read.
        var (exitCode, output, errors) = await ChildProcess.RunApart(info, Patience.Bound, input: "");

        Assert.True(exitCode == 0, $"{output}\n{errors}");
        // A terminal ends lines with "\r\n", and the bar is padded with spaces over its longer earlier states.
        var lines = output.Split('\n').Select(line => line.TrimEnd()).ToList();
        Assert.Contains(lines, line => line.EndsWith("] 100% completed", StringComparison.Ordinal));
        Assert.Contains(new Uri(service.BaseAddress, $"/jobs/{job.Id}/result").ToString(), lines);
    }

    [Fact]
    public async Task A_job_that_fails_ends_watch_and_wait_with_exit_1_and_its_error()
    {
        var job = await service.Client().SubmitAsync("manual", new { fileId = "cli-fails" });
        var worker = new WorkerApi(service.Client().Transport);
        var work = await worker.ClaimAsync(["manual"], TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), "cli-test", CancellationToken.None);
        Assert.Equal(job.Id, work?.JobId);
        await worker.FailAsync(work!, "corrupt_file", "The file is corrupt.", retryable: false, CancellationToken.None);

        var watched = await Jobsctl(["watch", job.Id.ToString()]);
        var waited = await Jobsctl(["wait", job.Id.ToString()]);

        Assert.Equal(1, watched.ExitCode);
        Assert.EndsWith("failed 0% corrupt_file: The file is corrupt.", watched.Output.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal(1, waited.ExitCode);
        Assert.Contains("failed", waited.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_parked_job_ends_its_watch_with_exit_2()
    {
        var id = (await Jobsctl(["submit", "parked", "--payload", """{"fileId": "cli-parked"}"""])).Output.Trim();
        var watch = Jobsctl(["watch", id]);

        var cancelled = await Jobsctl(["cancel", id, "--reason", "not needed"]);
        var watched = await watch;

        Assert.Equal(0, cancelled.ExitCode);
        Assert.Contains($"{id} cancelled", cancelled.Output, StringComparison.Ordinal);
        Assert.Equal(2, watched.ExitCode);
        Assert.Equal("cancelled", EventLines(watched.Output)[^1].Name);
    }

    [Fact]
    public async Task The_key_is_read_from_a_key_file_and_without_a_key_the_service_s_401_exits_4()
    {
        var job = await service.Client().SubmitAsync("parked", new { fileId = "cli-key" });
        var keyFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(keyFile, service.Key + "\n");

            var withFile = await Jobsctl(["status", job.Id.ToString(), "--key-file", keyFile], withKey: false);
            var withoutKey = await Jobsctl(["status", job.Id.ToString()], withKey: false);

            Assert.Equal(0, withFile.ExitCode);
            Assert.StartsWith($"{job.Id} parked queued 0%", withFile.Output, StringComparison.Ordinal);
            Assert.Equal(4, withoutKey.ExitCode);
            Assert.Equal("", withoutKey.Output);
            Assert.Contains("401 unauthenticated", withoutKey.Errors, StringComparison.Ordinal);
            Assert.Contains("JOBS_API_KEY", withoutKey.Errors, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Theory]
    [InlineData("Usage:")]
    [InlineData("Usage:", "frob")]
    [InlineData("Usage:", "submit")]
    [InlineData("Usage:", "status", "not-a-job-id")]
    [InlineData("See 'jobsctl submit --help'", "submit", "transcode", "--payload", "{not json")]
    public async Task A_wrong_command_line_exits_3_with_the_usage_on_stderr(string usage, params string[] arguments)
    {
        var run = await Jobsctl(arguments);

        Assert.Equal(3, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Contains(usage, run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_command_is_reported_in_one_line_above_the_usage()
    {
        var run = await Jobsctl(["frobnicate"]);

        Assert.Equal(3, run.ExitCode);
        Assert.Equal("Unrecognized command or argument 'frobnicate'.", run.Errors.TrimStart().Split('\n')[0]);
        Assert.DoesNotContain("Required command was not provided.", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_that_cannot_be_reached_exits_5()
    {
        var nowhere = $"http://127.0.0.1:{ApiProcess.FreePort()}";

        var run = await Jobsctl(["status", Guid.NewGuid().ToString(), "--url", nowhere]);

        Assert.Equal(5, run.ExitCode);
        Assert.Contains($"cannot reach the service at {nowhere}", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_problem_of_the_service_exits_4_with_its_status_code_and_detail()
    {
        var missing = Guid.NewGuid();

        var run = await Jobsctl(["status", missing.ToString()]);

        Assert.Equal(4, run.ExitCode);
        Assert.Contains($"404 job_not_found: There is no job {missing}", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_input_the_service_refuses_exits_4_naming_each_wrong_field_and_why()
    {
        var run = await Jobsctl(["submit", "transcode", "--payload", """{"fileId": "cli-invalid", "steps": "4"}"""]);

        Assert.Equal(4, run.ExitCode);
        Assert.Equal("", run.Output);
        var lines = run.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("error: the service answered 400 validation_failed: The request is not valid.", lines[0]);
        Assert.Contains(lines, line => line.StartsWith("  input.steps: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_type_exits_4_with_the_service_s_types_as_submit_s_help_says()
    {
        var help = await Jobsctl(["submit", "--help"]);
        var run = await Jobsctl(["submit", "no-such-type"]);

        Assert.Contains("an unknown type is refused (exit 4) with the list of the service's types", help.Output, StringComparison.Ordinal);
        Assert.Equal(4, run.ExitCode);
        Assert.Contains("  type: Unknown job type 'no-such-type'. The types are: ", run.Errors, StringComparison.Ordinal);
        Assert.Contains("payment", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submitting_with_the_same_idempotency_key_twice_prints_the_same_id()
    {
        const string input = """{"fileId": "cli-once"}""";

        var first = await Jobsctl(["submit", "parked", "--idempotency-key", "cli-order-42", "-"], stdin: input);
        var second = await Jobsctl(["submit", "parked", "--idempotency-key", "cli-order-42", "--payload", input]);

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal(first.Output, second.Output);
        Assert.Contains("no new job", second.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tail_prints_the_events_of_a_job_just_submitted_from_the_global_feed()
    {
        var submitted = await Jobsctl(["submit", "transcode", "--payload", """{"fileId": "cli-tail", "steps": 1, "stepMs": 0}""", "--correlation-id", "cli-tail", "--watch"]);
        Assert.Equal(0, submitted.ExitCode);
        var id = Guid.Parse(submitted.Output.Split('\n')[0]);
        var history = await service.Client().Job(id).GetHistoryAsync();

        var tail = await Jobsctl(["tail", "--after", "0", "--correlation-id", "cli-tail", "--count", history.Events.Count.ToString(CultureInfo.InvariantCulture)]);

        Assert.Equal(0, tail.ExitCode);
        var lines = tail.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(history.Events.Select(e => $"{e.Seq} {e.JobId} v{e.Version} {e.Type}"), lines.Select(l => l.Split(' ')).Select(f => $"{f[0]} {f[2]} {f[3]} {f[4]}"));
    }

    [Fact]
    public async Task Worker_runs_a_shell_command_per_job_completing_with_its_output_or_failing_on_its_exit_code_and_stops_on_SIGTERM()
    {
        // A worker in the background, three jobs through it (JSON, plain text, a failure), then SIGTERM, as a person or a service manager stops it.
        const string command = """input=$(cat); case "$input" in *broken*) exit 3;; *plain*) echo done; exit 0;; esac; echo "{\"converted\": $input, \"attempt\": $JOB_ATTEMPT}" """;
        var info = new ProcessStartInfo("bash", ["-c", $$"""
            set -euo pipefail
            jobsctl() { dotnet '{{Tool}}' "$@"; }
            dotnet '{{Tool}}' worker worked --run '{{command.Replace("'", "'\\''", StringComparison.Ordinal)}}' & worker=$!
            # A failure below must not leave the worker behind, holding the output open.
            trap 'kill "$worker" 2> /dev/null || true' EXIT
            good=$(jobsctl submit worked --payload '{"fileId": "cli-worker"}')
            bad=$(jobsctl submit worked --payload '{"fileId": "broken"}')
            plain=$(jobsctl submit worked --payload '{"fileId": "plain"}')
            jobsctl wait "$good" && jobsctl result "$good"
            jobsctl wait "$plain" > /dev/null && echo "plain: $(jobsctl result "$plain")"
            jobsctl wait "$bad" || echo "exit $?"
            kill -TERM "$worker" && wait "$worker"
            """]);
        info.Environment["JOBS_URL"] = service.BaseAddress.ToString();
        info.Environment["JOBS_API_KEY"] = service.Key;

        var (exitCode, output, errors) = await ChildProcess.RunApart(info, Patience.Bound);

        Assert.True(exitCode == 0, $"{output}\n{errors}");
        Assert.Contains("\"converted\": {\"fileId\": \"cli-worker\"}", output, StringComparison.Ordinal);
        Assert.Contains("\"attempt\": 1", output, StringComparison.Ordinal);
        Assert.Contains("""plain: {"output": "done"}""", output, StringComparison.Ordinal);
        Assert.Contains("worked failed 0% attempt 3/3 command_failed: The command exited with 3.", output, StringComparison.Ordinal);
        Assert.EndsWith("exit 1", output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_examples_of_the_page_run_as_written_with_the_tool_on_the_PATH()
    {
        var script = string.Join("\n", ShellBlockUnder("## Quick start"), ShellBlockUnder("## Exit codes"))
            .Replace("http://127.0.0.1:5000", service.BaseAddress.ToString().TrimEnd('/'), StringComparison.Ordinal);
        var bin = Directory.CreateTempSubdirectory("jobsctl-path-");
        try
        {
            // What `dotnet tool install` puts on the PATH, here for the tool as built.
            var shim = Path.Combine(bin.FullName, "jobsctl");
            await File.WriteAllTextAsync(shim, $"#!/bin/sh\nexec dotnet '{Tool}' \"$@\"\n");
            var info = new ProcessStartInfo("bash", ["-c", $"set -euo pipefail\nchmod +x '{shim}'\n{script}"]);
            info.Environment["PATH"] = bin.FullName + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
            info.Environment["KEY"] = service.Key;
            info.Environment.Remove("JOBS_URL");
            info.Environment.Remove("JOBS_API_KEY");

            var (exitCode, output, errors) = await ChildProcess.RunApart(info, Patience.Bound);

            Assert.True(exitCode == 0, $"The examples of {Page} stopped with exit code {exitCode}:\n{output}\n{errors}");
            Assert.Contains("completed 100%", output, StringComparison.Ordinal);
            Assert.Contains("movie-1.mp4", output, StringComparison.Ordinal);
            Assert.Contains("2026-Q4,", output, StringComparison.Ordinal);
            Assert.Contains("watch exited 2 (2: cancelled)", output, StringComparison.Ordinal);
            Assert.Contains("job.cancelled", output, StringComparison.Ordinal);
            Assert.EndsWith("done", output.TrimEnd(), StringComparison.Ordinal);
        }
        finally
        {
            bin.Delete(recursive: true);
        }
    }

    /// <summary>The configuration these tests were built in, and so the tool with them.</summary>
    internal static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string Tool
    {
        get
        {
            var dll = Path.Combine(Repository.Root.FullName, "src", "Cli", "bin", Configuration, "net10.0", "jobsctl.dll");
            return File.Exists(dll) ? dll : throw new InvalidOperationException($"Build it first: {dll} is missing.");
        }
    }

    /// <summary>Runs the tool with the service's address and, unless told otherwise, its key in the environment, as the docs set them.</summary>
    private async Task<(int ExitCode, string Output, string Errors)> Jobsctl(string[] arguments, string? stdin = null, bool withKey = true)
    {
        var info = new ProcessStartInfo("dotnet", [Tool, .. arguments]);
        info.Environment["JOBS_URL"] = service.BaseAddress.ToString();
        info.Environment.Remove("JOBS_API_KEY");
        if (withKey)
            info.Environment["JOBS_API_KEY"] = service.Key;
        return await ChildProcess.RunApart(info, Patience.Bound, stdin);
    }

    /// <summary>watch's plain lines, "sequence name progress% detail", each checked to be one.</summary>
    private static List<(long Sequence, string Name, string Progress)> EventLines(string output) =>
    [
        .. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var fields = line.Split(' ');
            Assert.True(fields.Length >= 3 && long.TryParse(fields[0], CultureInfo.InvariantCulture, out _) && fields[2].EndsWith('%'), $"Not an event line: {line}");
            return (long.Parse(fields[0], CultureInfo.InvariantCulture), fields[1], fields[2]);
        }),
    ];

    private static string ShellBlockUnder(string heading)
    {
        var markdown = File.ReadAllText(Path.Combine(Repository.Root.FullName, Page));
        var start = markdown.IndexOf($"\n{heading}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{Page} has no section '{heading}'.");
        var end = markdown.IndexOf("\n## ", start + heading.Length + 2, StringComparison.Ordinal);
        return Assert.Single(ShellBlock().Matches(end < 0 ? markdown[start..] : markdown[start..end])).Groups[1].Value;
    }

    [GeneratedRegex(@"^```sh\n(.*?)^```$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex ShellBlock();
}
