using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// A read model built from events. Registered with the store, it runs inline: inside the
/// appending transaction, so it is never behind its events and rolls back with them.
/// It must be deterministic (time comes from the events), so a rebuild gives the same rows.
/// </summary>
public interface IProjection
{
    /// <summary>The name operators rebuild it by.</summary>
    string Name { get; }

    /// <summary>Applies events, in sequence order, on a connection inside an open transaction.</summary>
    Task Apply(NpgsqlConnection connection, IReadOnlyList<StoredEvent> events, CancellationToken ct);

    /// <summary>Removes every row, before a rebuild replays all events.</summary>
    Task Clear(NpgsqlConnection connection, CancellationToken ct);
}
