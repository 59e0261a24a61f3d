using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>What the tool's exit code tells a script (docs/clients/cli.md has the table).</summary>
internal static class ExitCodes
{
    /// <summary>Done; for a command that follows a job (watch, wait, submit --watch): the job completed.</summary>
    public const int Completed = 0;

    public const int Failed = 1;
    public const int Cancelled = 2;

    /// <summary>The command line was wrong: an unknown command or option, a missing argument, input that is not JSON.</summary>
    public const int Usage = 3;

    /// <summary>The service refused the request with a problem (401, 404, 409, 412, 422, ...).</summary>
    public const int ApiProblem = 4;

    /// <summary>The service did not answer: refused, reset or timed out connections, after the client's retries.</summary>
    public const int Unreachable = 5;

    /// <summary>Stopped by Ctrl+C or SIGTERM before the end (128 + SIGINT, as shells report it): not to be read as a failed job.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code for a job that finished with <paramref name="status"/>.</summary>
    public static int Of(string status) => status switch
    {
        JobStatuses.Completed => Completed,
        JobStatuses.Cancelled => Cancelled,
        _ => Failed,
    };
}

/// <summary>A command line the tool cannot act on, found after parsing (a payload that is not JSON, a missing file): exit 3.</summary>
internal sealed class UsageException(string message) : Exception(message);
