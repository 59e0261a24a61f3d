using System.CommandLine;
using System.CommandLine.Help;
using EventSourced.Cli;

var root = new RootCommand("""
    The jobs service from the command line. The address comes from --url or JOBS_URL (default http://127.0.0.1:5000), the
    API key from JOBS_API_KEY or --key-file. Exit codes: 0 done (a followed job completed), 1 the job failed, 2 it was
    cancelled, 3 a usage error, 4 the service refused the request (a problem), 5 the service could not be reached.
    """)
{
    Connection.Url,
    Connection.KeyFile,
    SubmitCommand.Create(),
    WatchCommand.Create(),
    JobCommands.Wait(),
    JobCommands.Status(),
    JobCommands.Cancel(),
    JobCommands.Result(),
    JobCommands.History(),
    TailCommand.Create(),
    WorkerCommand.Create(),
};

// Without an action of its own, the root would report "Required command was not provided." for any command line that does not
// start with a known command, above an unknown command's own error. Given no command, the tool shows its help, as a usage error.
// (Not the HelpAction itself, which clears the parse errors: an unknown command would print the help alone.)
root.SetAction(noCommand => new HelpAction().Invoke(noCommand));

var parsed = root.Parse(args);
if (parsed.Errors.Count == 0 && parsed.Action != root.Action)
    // On Ctrl+C or SIGTERM a worker hands its jobs back before it exits, which may take longer than the parser's 2 s default.
    return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
// The parser's own report (the errors, then the command's help), or the help when no command was given, goes to stderr, and
// the exit code is the tool's for usage.
await parsed.InvokeAsync(new InvocationConfiguration { Output = Console.Error });
return ExitCodes.Usage;
