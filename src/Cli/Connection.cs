using System.CommandLine;
using System.Text.Json;
using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>
/// Where the service is and which key to send, the same for every command; and the one place where a failure becomes a
/// line on stderr and an exit code.
/// </summary>
internal static class Connection
{
    private const string DefaultUrl = "http://127.0.0.1:5000";

    public static readonly Option<string> Url = new("--url")
    {
        Description = $"The service's address. Default: the JOBS_URL environment variable, else {DefaultUrl}.",
        Recursive = true,
    };

    // No option takes the key itself: a command line is seen by every user of the machine (ps) and kept in shell histories.
    public static readonly Option<string> KeyFile = new("--key-file")
    {
        Description = "A file holding the API key. Default: the JOBS_API_KEY environment variable.",
        Recursive = true,
    };

    /// <summary>A command's action with a client of the service, whose failures end the tool with their exit code.</summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Run(Func<ParseResult, JobsClient, CancellationToken, Task<int>> action) =>
        async (parsed, ct) =>
        {
            try
            {
                var options = Options(parsed);
                using var http = new HttpClient();
                return await action(parsed, new JobsClient(http, options), ct);
            }
            catch (UsageException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}\nSee '{parsed.RootCommandResult.Command.Name} {parsed.CommandResult.Command.Name} --help'.");
                return ExitCodes.Usage;
            }
            catch (JobsApiException e)
            {
                await Console.Error.WriteLineAsync($"error: the service answered {(int)e.Status} {e.Code ?? "(no code)"}: {e.Detail ?? e.Title}");
                foreach (var line in FieldErrors(e.Problem))
                    await Console.Error.WriteLineAsync(line);
                if (e.Code == "unauthenticated")
                    await Console.Error.WriteLineAsync("No API key was sent: set JOBS_API_KEY, or pass --key-file with a file that holds it.");
                return ExitCodes.ApiProblem;
            }
            catch (EventStreamUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.ApiProblem;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }
            catch (Exception e) when (ApiTransport.IsConnectionFailure(e, ct))
            {
                await Console.Error.WriteLineAsync($"error: cannot reach the service at {Address(parsed)}: {e.Message}");
                return ExitCodes.Unreachable;
            }
        };

    /// <summary>
    /// A validation problem's "errors" (field path -> messages), one line per field: its title alone ("The request is
    /// not valid.") does not say which field is wrong or why.
    /// </summary>
    private static IEnumerable<string> FieldErrors(JsonElement? problem)
    {
        if (problem is not { ValueKind: JsonValueKind.Object } p || !p.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Object)
            yield break;
        foreach (var field in errors.EnumerateObject())
        {
            var messages = field.Value.ValueKind == JsonValueKind.Array ? field.Value.EnumerateArray().Select(m => m.ToString()) : [field.Value.ToString()];
            yield return $"  {field.Name}: {string.Join(' ', messages)}";
        }
    }

    private static JobsClientOptions Options(ParseResult parsed)
    {
        if (!Uri.TryCreate(Address(parsed), UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            throw new UsageException($"'{Address(parsed)}' is not an http or https address.");
        return new JobsClientOptions
        {
            BaseAddress = address,
            ApiKey = Key(parsed),
            // A person or a script is waiting: a service that is down is said within seconds, not after the client's half minute.
            Retry = new RetryPolicy { MaxAttempts = 4, BaseDelay = TimeSpan.FromMilliseconds(250), MaxDelay = TimeSpan.FromSeconds(5) },
        };
    }

    private static string Address(ParseResult parsed)
    {
        if (parsed.GetValue(Url) is { } url)
            return url;
        return Environment.GetEnvironmentVariable("JOBS_URL") is { Length: > 0 } fromEnvironment ? fromEnvironment : DefaultUrl;
    }

    private static string? Key(ParseResult parsed)
    {
        if (parsed.GetValue(KeyFile) is not { } path)
            return Environment.GetEnvironmentVariable("JOBS_API_KEY") is { Length: > 0 } key ? key : null;
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the key file: {e.Message}");
        }
    }
}
