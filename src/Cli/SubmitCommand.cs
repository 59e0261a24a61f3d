using System.CommandLine;
using System.Text.Json;
using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>submit TYPE: submits a job and prints its id; with --watch, follows it to its end as watch does.</summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        // No list of types here: each service has its own (its external ones are configured), so only its answer stays true.
        var type = new Argument<string>("type") { Description = "The job type, one the service runs: an unknown type is refused (exit 4) with the list of the service's types." };
        var stdin = new Argument<string?>("input")
        {
            Description = "A dash (-) to read the job's input, a JSON object, from standard input.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var payload = new Option<string>("--payload") { Description = "The job's input, a JSON object (default {})." };
        var payloadFile = new Option<string>("--payload-file") { Description = "A file holding the job's input, a JSON object." };
        var key = new Option<string>("--idempotency-key")
        {
            Description = "The key of this piece of work: the same key again gives the same job. Default: a new one, reused on the tool's own retries.",
        };
        var callback = new Option<Uri>("--callback") { Description = "Where the service posts signed callbacks about the job." };
        var correlation = new Option<string>("--correlation-id") { Description = "Your id for the work, carried on every event of the job." };
        var watch = new Option<bool>("--watch") { Description = "Then follow the job as watch does, and exit as it ended: 0 completed, 1 failed, 2 cancelled." };
        var json = new Option<bool>("--json") { Description = "Print the service's answer as JSON instead of the id." };
        var command = new Command("submit", "Submit a job and print its id (its status URL, the Location, goes to stderr).")
        {
            type, stdin, payload, payloadFile, key, callback, correlation, watch, json,
        };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            var input = await Input(parsed.GetValue(stdin), parsed.GetValue(payload), parsed.GetValue(payloadFile), ct);
            var options = new SubmitOptions
            {
                IdempotencyKey = parsed.GetValue(key),
                CallbackUrl = parsed.GetValue(callback),
                CorrelationId = parsed.GetValue(correlation),
            };
            var job = await client.SubmitAsync(parsed.GetValue(type)!, input, options, ct);
            var accepted = job.Accepted!;
            Console.WriteLine(parsed.GetValue(json) ? Output.Json(accepted) : job.Id.ToString());
            await Console.Error.WriteLineAsync($"Location: {accepted.StatusUrl}{(accepted.Replayed ? " (the key had made this job before: no new job)" : "")}");
            return parsed.GetValue(watch) ? await WatchCommand.Follow(job, ct) : ExitCodes.Completed;
        }));
        return command;
    }

    /// <summary>The input from one of its three sources, checked to be a JSON object here so a typo is a usage error, not a 400.</summary>
    private static async Task<JsonElement> Input(string? stdin, string? payload, string? file, CancellationToken ct)
    {
        if (stdin is not (null or "-"))
            throw new UsageException($"unexpected argument '{stdin}': the input goes in --payload, --payload-file, or '-' for standard input.");
        if (new[] { stdin, payload, file }.Count(source => source is not null) > 1)
            throw new UsageException("give the input once: --payload, --payload-file or '-'.");
        string text;
        try
        {
            text = stdin is not null ? await Console.In.ReadToEndAsync(ct)
                : file is not null ? await File.ReadAllTextAsync(file, ct)
                : payload ?? "{}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the input: {e.Message}");
        }
        try
        {
            var input = JsonSerializer.Deserialize<JsonElement>(text);
            return input.ValueKind == JsonValueKind.Object ? input : throw new UsageException($"the input must be a JSON object, not {input.ValueKind}.");
        }
        catch (JsonException e)
        {
            throw new UsageException($"the input is not JSON: {e.Message}");
        }
    }
}
