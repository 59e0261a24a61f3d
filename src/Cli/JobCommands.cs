using System.CommandLine;
using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>The commands about one job known by its id, each one request or one wait of the client's job handle.</summary>
internal static class JobCommands
{
    public static Command Status()
    {
        var (id, json) = (Id(), Json("Print the job's state as JSON."));
        var command = new Command("status", "Print where a job stands: id, type, status, progress, attempt, message or error.") { id, json };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            var state = await client.Job(parsed.GetValue(id)).GetStatusAsync(ct);
            Console.WriteLine(parsed.GetValue(json) ? Output.Json(state) : Output.Line(state));
            return ExitCodes.Completed;
        }));
        return command;
    }

    public static Command Wait()
    {
        var (id, json) = (Id(), Json("Print the job's final state as JSON."));
        var command = new Command("wait", "Wait quietly until a job ends (stream, long poll or poll), print its final state, exit 0 completed, 1 failed, 2 cancelled.")
        {
            id, json,
        };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            var state = await client.Job(parsed.GetValue(id)).WaitForCompletionAsync(ct: ct);
            Console.WriteLine(parsed.GetValue(json) ? Output.Json(state) : Output.Line(state));
            return ExitCodes.Of(state.Status);
        }));
        return command;
    }

    public static Command Cancel()
    {
        var (id, json) = (Id(), Json("Print the service's answer as JSON."));
        var ifMatch = new Option<long?>("--if-match") { Description = "Cancel only if the job is still at this version (its ETag, status --json's version); else exit 4 with 412." };
        var reason = new Option<string>("--reason") { Description = "Why, recorded with the cancel." };
        var command = new Command("cancel", "Cancel a job: a queued one at once, a running one is asked to stop (watch it to see it end).")
        {
            id, ifMatch, reason, json,
        };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            var cancel = await client.Job(parsed.GetValue(id)).CancelAsync(parsed.GetValue(reason), parsed.GetValue(ifMatch), ct);
            Console.WriteLine(parsed.GetValue(json) ? Output.Json(cancel)
                : $"{cancel.JobId} {cancel.Status}{(cancel.CancellationRequested && !JobStatuses.IsFinal(cancel.Status) ? " cancellation requested" : "")} v{cancel.Version}");
            return ExitCodes.Completed;
        }));
        return command;
    }

    public static Command Result()
    {
        var id = Id();
        var command = new Command("result", "Print a completed job's result as the service sends it (JSON, or text such as a CSV).") { id };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            Console.WriteLine(await client.Job(parsed.GetValue(id)).GetResultAsync<string>(ct));
            return ExitCodes.Completed;
        }));
        return command;
    }

    public static Command History()
    {
        var (id, json) = (Id(), Json("Print the history as JSON."));
        var command = new Command("history", "Print every stored event of a job, one per line: seq, time, job, version, type, data (a key with the auditor role).")
        {
            id, json,
        };
        command.SetAction(Connection.Run(async (parsed, client, ct) =>
        {
            var history = await client.Job(parsed.GetValue(id)).GetHistoryAsync(ct);
            if (parsed.GetValue(json))
                Console.WriteLine(Output.Json(history));
            else
                foreach (var e in history.Events)
                    Console.WriteLine(Output.Line(e));
            return ExitCodes.Completed;
        }));
        return command;
    }

    private static Argument<Guid> Id() => new("id") { Description = "The job's id." };

    private static Option<bool> Json(string description) => new("--json") { Description = description };
}
