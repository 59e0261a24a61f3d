namespace EventSourced.EventStore;

/// <summary>Who and what caused an event, stored beside it for auditors.</summary>
public sealed record EventMetadata(string? CorrelationId = null, string? CausationId = null, string? Actor = null)
{
    public static readonly EventMetadata None = new();
}

/// <summary>
/// A position in the global feed. Sequence numbers are taken before commit, so they can commit
/// out of order; the writing transaction's id orders the feed so that no late commit is skipped.
/// </summary>
public readonly record struct GlobalPosition(ulong TransactionId, long Seq) : IComparable<GlobalPosition>
{
    public static readonly GlobalPosition Start = new(0, 0);

    public int CompareTo(GlobalPosition other) =>
        TransactionId != other.TransactionId ? TransactionId.CompareTo(other.TransactionId) : Seq.CompareTo(other.Seq);

    public override string ToString() => $"{TransactionId}:{Seq}";
}

/// <summary>A page of the global feed, and whether committed events after it are held back by an older running transaction.</summary>
public sealed record FeedPage(IReadOnlyList<StoredEvent> Events, bool HeldBack);

public sealed record StoredEvent(
    long Seq,
    Guid Id,
    Guid StreamId,
    long Version,
    string TypeName,
    object Data,
    EventMetadata Metadata,
    string TenantId,
    DateTimeOffset Timestamp,
    ulong TransactionId)
{
    public GlobalPosition Position => new(TransactionId, Seq);
}

public static class Tenants
{
    public const string Default = "default";
}
