namespace EventSourced.EventStore;

public static class ExpectedVersion
{
    /// <summary>The stream must not exist yet: the append starts it.</summary>
    public const long NoStream = 0;
}

/// <summary>Events for one stream, appended only if the stream is at <see cref="ExpectedVersion"/>.</summary>
public sealed record StreamAppend(
    Guid StreamId,
    long ExpectedVersion,
    IReadOnlyList<object> Events,
    EventMetadata? Metadata = null,
    string? StreamType = null,
    string TenantId = Tenants.Default);

public sealed record AppendResult(Guid StreamId, long Version, IReadOnlyList<StoredEvent> Events)
{
    public long LastSeq => Events[^1].Seq;
}

/// <summary>The outcome of one append in a batch: its events, or why it was refused.</summary>
public sealed record AppendOutcome(StreamAppend Request, AppendResult? Result, EventStoreException? Error)
{
    public AppendResult GetResultOrThrow() => Result ?? throw Error!;
}
