using System.CommandLine;
using System.Globalization;
using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>watch ID: follows a job's events to its end, and exits with what the job ended as.</summary>
internal static class WatchCommand
{
    private const int BarWidth = 30;

    public static Command Create()
    {
        var id = new Argument<Guid>("id") { Description = "The job's id." };
        var command = new Command("watch", "Follow a job's events until it ends: a progress bar on a terminal, one line per event otherwise. Exits 0 completed, 1 failed, 2 cancelled.")
        {
            id,
        };
        command.SetAction(Connection.Run((parsed, client, ct) => Follow(client.Job(parsed.GetValue(id)), ct)));
        return command;
    }

    /// <summary>Prints the job's events until its final one (from its first: a finished job's are replayed) and returns its exit code.</summary>
    public static async Task<int> Follow(JobHandle job, CancellationToken ct)
    {
        // Read once before subscribing: a wrong id or key, or a service that is down, is said at once instead of retried.
        await job.GetStatusAsync(ct);
        var view = new View(terminal: !Console.IsOutputRedirected);
        JobEvent? last = null;
        await foreach (var e in job.WatchAsync(ct: ct))
        {
            view.Show(e);
            last = e;
        }
        return last switch
        {
            JobEvent.Completed => ExitCodes.Completed,
            JobEvent.Failed => ExitCodes.Failed,
            JobEvent.Cancelled => ExitCodes.Cancelled,
            _ => ExitCodes.Of((await job.GetStatusAsync(ct)).Status),
        };
    }

    /// <summary>
    /// On a terminal, one line redrawn in place (a bar, the percentage, the event), left at the job's final state with
    /// what it ended with (the result's URL, the error) on a line of its own below; elsewhere (a pipe, a file, a CI log)
    /// one line per event, "sequence name progress% detail", for a script to read.
    /// </summary>
    private sealed class View(bool terminal)
    {
        private int _drawn;

        public void Show(JobEvent e)
        {
            var detail = Output.Detail(e);
            if (!terminal)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{e.Sequence} {e.Name} {Output.Percent(e.Progress)}{(detail is null ? "" : " " + detail)}"));
                return;
            }
            var filled = Math.Clamp(e.Progress, 0, 100) * BarWidth / 100;
            // The final detail goes below the bar, whole: cut to the terminal's width with the bar, the result's URL would be lost.
            var inBar = e.IsFinal ? null : detail;
            var line = $"[{new string('#', filled)}{new string('.', BarWidth - filled)}] {e.Progress,3}% {e.Name}{(inBar is null ? "" : " " + inBar)}";
            // Longer than the terminal, the line would wrap and "\r" would redraw only its last row.
            var width = Console.WindowWidth > 1 ? Console.WindowWidth - 1 : 79;
            if (line.Length > width)
                line = line[..width];
            Console.Write("\r" + line.PadRight(_drawn));
            _drawn = line.Length;
            if (!e.IsFinal)
                return;
            Console.WriteLine();
            if (detail is not null)
                Console.WriteLine(detail);
        }
    }
}
