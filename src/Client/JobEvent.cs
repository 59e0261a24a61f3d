using System.Text.Json;

namespace EventSourced.Client;

/// <summary>
/// One event of a job's stream (GET /jobs/{id}/events): where the job stands after it, and what happened. A closed set of
/// kinds, one per SSE event name, so a switch over them is total; <see cref="Other"/> holds a name this client does not know yet.
/// </summary>
public abstract record JobEvent
{
    private JobEvent()
    {
    }

    /// <summary>The SSE id: the event's global sequence number. It grows along the stream, with gaps.</summary>
    public long Sequence { get; init; }

    /// <summary>The SSE event name: queued, processing, progress, waiting, completed, failed, cancelled.</summary>
    public string Name { get; init; } = "";

    public Guid JobId { get; init; }

    /// <summary>The stored event behind it: job.submitted, job.started, job.progressed, ...</summary>
    public string EventType { get; init; } = "";

    /// <summary>The job's status after the event.</summary>
    public string Status { get; init; } = "";

    public int Progress { get; init; }
    public int Attempt { get; init; }

    /// <summary>The job's version after the event (its ETag).</summary>
    public long Version { get; init; }

    public DateTimeOffset Timestamp { get; init; }

    /// <summary>True when a cancel was asked for (the job's runner is told; <see cref="Cancelled"/> follows).</summary>
    public bool CancellationRequested { get; init; }

    /// <summary>Why: of a cancel, of a hand-back by its runner, of an operator's retry.</summary>
    public string? Reason { get; init; }

    /// <summary>The last event of the job: nothing follows it.</summary>
    public bool IsFinal => this is Completed or Failed or Cancelled;

    /// <summary>Waiting to run: submitted, given back, retried by an operator, or after a failed attempt (<see cref="Error"/>, <see cref="RetryAt"/>).</summary>
    public sealed record Queued : JobEvent
    {
        public string? JobType { get; init; }
        public string? CorrelationId { get; init; }
        public JobError? Error { get; init; }
        public DateTimeOffset? RetryAt { get; init; }
    }

    /// <summary>A runner started an attempt (or, with <see cref="CancellationRequested"/>, a running job was asked to stop).</summary>
    public sealed record Processing : JobEvent
    {
        public string? Worker { get; init; }
    }

    /// <summary>The attempt reported progress.</summary>
    public sealed record Progressed : JobEvent
    {
        public int Percent { get; init; }
        public string? Message { get; init; }
    }

    /// <summary>Suspended until someone outside (a payment provider) reports the outcome.</summary>
    public sealed record Waiting : JobEvent
    {
        public string? WaitingFor { get; init; }
        public DateTimeOffset? WaitingUntil { get; init; }
    }

    public sealed record Completed : JobEvent
    {
        public Uri? ResultUrl { get; init; }
        public string? ResultContentType { get; init; }
    }

    public sealed record Failed : JobEvent
    {
        public JobError? Error { get; init; }
    }

    public sealed record Cancelled : JobEvent;

    /// <summary>An event name this version of the client does not know; its data as sent.</summary>
    public sealed record Other : JobEvent
    {
        public JsonElement Data { get; init; }
    }

    /// <summary>The event of one SSE item.</summary>
    internal static JobEvent From(long sequence, string name, string data)
    {
        var p = JsonSerializer.Deserialize<Payload>(data, ClientJson.Options)
            ?? throw new JsonException($"Event {sequence} ({name}) has no data.");
        JobEvent e = name switch
        {
            "queued" => new Queued { JobType = p.JobType, CorrelationId = p.CorrelationId, Error = p.Error, RetryAt = p.RetryAt },
            "processing" => new Processing { Worker = p.Worker },
            "progress" => new Progressed { Percent = p.Percent ?? p.Progress, Message = p.Message },
            "waiting" => new Waiting { WaitingFor = p.WaitingFor, WaitingUntil = p.WaitingUntil },
            "completed" => new Completed { ResultUrl = p.ResultUrl, ResultContentType = p.ResultContentType },
            "failed" => new Failed { Error = p.Error },
            "cancelled" => new Cancelled(),
            _ => new Other { Data = JsonSerializer.Deserialize<JsonElement>(data) },
        };
        return e with
        {
            Sequence = sequence, Name = name, JobId = p.JobId, EventType = p.EventType ?? "", Status = p.Status ?? "", Progress = p.Progress,
            Attempt = p.Attempt, Version = p.Version, Timestamp = p.Timestamp, CancellationRequested = p.CancellationRequested ?? false, Reason = p.Reason,
        };
    }

    /// <summary>The data of every event name, as the AsyncAPI document describes it; a field without a value is left out.</summary>
    private sealed record Payload(
        Guid JobId, string? EventType, string? Status, int Progress, int Attempt, long Version, DateTimeOffset Timestamp,
        string? JobType, string? CorrelationId, string? Worker, int? Percent, string? Message, Uri? ResultUrl, string? ResultContentType,
        JobError? Error, bool? CancellationRequested, string? Reason, DateTimeOffset? RetryAt, string? WaitingFor, DateTimeOffset? WaitingUntil);
}
