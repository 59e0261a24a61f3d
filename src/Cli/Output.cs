using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>How the tool prints what the service says: a line a person reads and a script splits on spaces, or JSON with --json.</summary>
internal static class Output
{
    private static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Json<T>(T value) => JsonSerializer.Serialize(value, Indented);

    /// <summary>A job's state: "id type status progress% attempt n/max message".</summary>
    public static string Line(JobState s) => string.Join(' ', new[]
    {
        s.JobId.ToString(), s.Type, s.Status, Percent(s.Progress), $"attempt {s.Attempt}/{s.MaxAttempts}",
        s.CancellationRequested && !s.IsFinished ? "cancellation requested" : null,
        s.Error is { } error ? Error(error) : s.Message,
    }.Where(part => !string.IsNullOrEmpty(part)));

    /// <summary>A stored event, of a job's history or of the global feed: "seq timestamp job vN type data".</summary>
    public static string Line(StoredEvent e) =>
        string.Create(CultureInfo.InvariantCulture, $"{e.Seq} {e.Timestamp:O} {e.JobId} v{e.Version} {e.Type} {e.Data.GetRawText()}");

    /// <summary>What an event of a job's stream adds to its name and progress, if anything.</summary>
    public static string? Detail(JobEvent e) => e switch
    {
        JobEvent.Progressed p => p.Message,
        JobEvent.Queued { Error: { } error } q => $"retry after {Error(error)}{(q.RetryAt is { } at ? $" at {at:O}" : "")}",
        { CancellationRequested: true, IsFinal: false } => $"cancellation requested{(e.Reason is null ? "" : $": {e.Reason}")}",
        JobEvent.Processing p => $"attempt {p.Attempt}{(p.Worker is null ? "" : $" on {p.Worker}")}",
        JobEvent.Waiting w => $"waiting for {w.WaitingFor}{(w.WaitingUntil is { } until ? $" until {until:O}" : "")}",
        JobEvent.Completed c => c.ResultUrl?.ToString(),
        JobEvent.Failed { Error: { } error } => Error(error),
        JobEvent.Cancelled c => c.Reason,
        _ => null,
    };

    public static string Percent(int progress) => string.Create(CultureInfo.InvariantCulture, $"{progress}%");

    private static string Error(JobError error) => $"{error.Code}: {error.Message}";
}
