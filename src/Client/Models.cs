using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventSourced.Client;

/// <summary>The JSON of the service: camelCase, enums as strings, numbers strict.</summary>
internal static class ClientJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>What a submission may carry besides its type and input; every field is optional.</summary>
public sealed record SubmitOptions
{
    /// <summary>The key of this piece of work. Unset: the client makes one (a UUID) and reuses it on its own retries. Set it to
    /// something your domain owns (an order id) to make retries across restarts of your app land on the same job too.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>Where the service posts signed callbacks (check them with <see cref="WebhookVerifier"/>).</summary>
    public Uri? CallbackUrl { get; init; }

    /// <summary>What the callbacks are about: started, progress, waiting, retrying, completed, failed, cancelled (unset: the end).</summary>
    public IReadOnlyList<string>? CallbackEvents { get; init; }

    public string? CorrelationId { get; init; }
    public int? MaxAttempts { get; init; }
    public int? TimeoutSeconds { get; init; }
}

/// <summary>The service's 202 to a submission.</summary>
/// <param name="IdempotencyKey">The key it was sent with (made by the client when none was given): keep it to submit the same work again.</param>
/// <param name="Replayed">True when the key had made this job before (a retry whose first answer was lost, say): no new job was made.</param>
public sealed record JobAccepted(Guid JobId, string Status, Uri StatusUrl, Uri EventsUrl, string IdempotencyKey, bool Replayed);

/// <summary>A job's error: a stable code and a message.</summary>
public sealed record JobError(string Code, string? Message);

/// <summary>Where a job stands, as GET /jobs/{id} says (the authoritative answer).</summary>
public sealed record JobState
{
    public Guid JobId { get; init; }
    public string Type { get; init; } = "";

    /// <summary>queued, processing, completed, failed or cancelled.</summary>
    public string Status { get; init; } = "";

    public int Progress { get; init; }
    public string? Message { get; init; }
    public int Attempt { get; init; }
    public int MaxAttempts { get; init; }
    public DateTimeOffset? NextAttemptAt { get; init; }
    public bool CancellationRequested { get; init; }
    public string? CorrelationId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public Uri? ResultUrl { get; init; }
    public JobError? Error { get; init; }

    /// <summary>The job's version, its ETag: what <see cref="JobHandle.CancelAsync"/> takes as the version it expects.</summary>
    public long Version { get; init; }

    public string? WaitingFor { get; init; }
    public DateTimeOffset? WaitingUntil { get; init; }
    public Uri? EventsUrl { get; init; }

    /// <summary>Completed, failed or cancelled: nothing more will happen to it.</summary>
    [JsonIgnore]
    public bool IsFinished => JobStatuses.IsFinal(Status);
}

/// <summary>The statuses a job ends in.</summary>
public static class JobStatuses
{
    public const string Queued = "queued";
    public const string Processing = "processing";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>The service's 202 to a cancel: a queued job is cancelled at once, a running one is asked to stop.</summary>
public sealed record CancelAccepted(Guid JobId, string Status, bool CancellationRequested, long Version);

/// <summary>Every event of a job as stored, for auditors (GET /jobs/{id}/history).</summary>
public sealed record JobHistory(Guid JobId, IReadOnlyList<StoredEvent> Events);

/// <summary>One stored event: its global sequence number, the job's version after it, its type (job.started, ...), its data as stored.</summary>
public sealed record StoredEvent(long Seq, Guid JobId, long Version, string Type, DateTimeOffset Timestamp, JsonElement Data, EventMetadata? Metadata);

/// <summary>Who and what caused an event.</summary>
public sealed record EventMetadata(string? CorrelationId, string? CausationId, string? Actor);

/// <summary>How <see cref="JobHandle.WaitForCompletionAsync"/> learns that a job ended.</summary>
public enum WaitStrategy
{
    /// <summary>The event stream; long polling when something between here and the service does not pass streams; polling when long polls are not held.</summary>
    Auto,

    /// <summary>The event stream only.</summary>
    Stream,

    /// <summary>GET /jobs/{id} held by the service until the job moves (Prefer: wait); polling when the service does not hold it.</summary>
    LongPoll,

    /// <summary>GET /jobs/{id} at the pace of its Retry-After, with If-None-Match (an unchanged job costs a 304).</summary>
    Poll,
}
