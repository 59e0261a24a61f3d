namespace EventSourced.EventStore;

/// <summary>Who and what caused an event, stored beside it (Marten's metadata columns) for auditors.</summary>
public sealed record EventMetadata(string? CorrelationId = null, string? CausationId = null, string? Actor = null)
{
    public static readonly EventMetadata None = new();
}

public static class Tenants
{
    public const string Default = "default";
}
