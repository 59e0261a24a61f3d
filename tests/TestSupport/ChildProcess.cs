using System.Diagnostics;

namespace EventSourced.TestSupport;

/// <summary>A tool a test runs to its end (a docs example, a browser test): bounded, so a hung one fails the test instead of hanging it.</summary>
public static class ChildProcess
{
    /// <summary>Runs <paramref name="info"/> until it exits or <paramref name="bound"/> passes (then it is killed): its exit code and all it printed.</summary>
    public static async Task<(int ExitCode, string Output)> Run(ProcessStartInfo info, TimeSpan bound)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
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
        return (process.ExitCode, await output + await errors);
    }
}
