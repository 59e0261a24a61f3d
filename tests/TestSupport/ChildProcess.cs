using System.Diagnostics;

namespace EventSourced.TestSupport;

/// <summary>A tool a test runs to its end (a docs example, a browser test): bounded, so a hung one fails the test instead of hanging it.</summary>
public static class ChildProcess
{
    /// <summary>Runs <paramref name="info"/> until it exits or <paramref name="bound"/> passes (then it is killed): its exit code and all it printed.</summary>
    public static async Task<(int ExitCode, string Output)> Run(ProcessStartInfo info, TimeSpan bound)
    {
        var (exitCode, output, errors) = await RunApart(info, bound);
        return (exitCode, output + errors);
    }

    /// <summary>
    /// As <see cref="Run"/>, for a tool whose streams mean different things (a command-line tool's answer and its errors): its
    /// exit code, its standard output and its standard error apart. <paramref name="input"/>, when given, is its standard input.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Errors)> RunApart(ProcessStartInfo info, TimeSpan bound, string? input = null)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = input is not null;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        using var patience = new CancellationTokenSource(bound);
        try
        {
            await process.WaitForExitAsync(patience.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
        }
        return (process.ExitCode, await output, await errors);
    }
}
