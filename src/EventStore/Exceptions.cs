namespace EventSourced.EventStore;

public abstract class EventStoreException(string message, Exception? inner = null) : Exception(message, inner);

public sealed class StreamAlreadyExistsException(Guid streamId)
    : EventStoreException($"Stream {streamId} already exists.")
{
    public Guid StreamId { get; } = streamId;
}

public sealed class WrongExpectedVersionException(Guid streamId, long expectedVersion, long? actualVersion)
    : EventStoreException(actualVersion is null
        ? $"Stream {streamId} does not exist (expected version {expectedVersion})."
        : $"Stream {streamId} is at version {actualVersion}, not the expected {expectedVersion}.")
{
    public Guid StreamId { get; } = streamId;
    public long ExpectedVersion { get; } = expectedVersion;
    public long? ActualVersion { get; } = actualVersion;
}

public sealed class UnknownEventTypeException(string typeName)
    : EventStoreException($"The event type name '{typeName}' is not registered: register it (with the CLR record it maps to) before reading streams that contain it.")
{
    public string TypeName { get; } = typeName;
}
