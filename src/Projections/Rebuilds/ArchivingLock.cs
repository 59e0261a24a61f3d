using Npgsql;

namespace EventSourced.Projections.Rebuilds;

/// <summary>
/// Builds and archiving exclude each other. Archiving a job adds no event, so a build that catches up by events would keep
/// the rows of a job archived while it ran, and finding them at the swap would scan every stream with appends held (200 ms
/// for 300,000 streams here). Instead a build holds this lock for its whole life, and archiving takes it shared in its own
/// transaction, so it waits for the build (retention runs in the background: its batch is done a minute later).
/// </summary>
public static class ArchivingLock
{
    // Any number, the same in every process.
    private const long Key = 7_405_117_001;

    /// <summary>Taken in an archiving transaction already open on <paramref name="connection"/>; held until it ends. Waits for a build as long as it runs.</summary>
    public static async Task Share(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1)", connection) { CommandTimeout = 0, Parameters = { new() { Value = Key } } };
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Taken by a build once archiving in flight has committed (and after any other build), on a connection of its own that keeps it until disposed or the process dies.</summary>
    public static async Task<Held> Hold(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var connection = await dataSource.OpenConnectionAsync(ct);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { CommandTimeout = 0, Parameters = { new() { Value = Key } } };
            await command.ExecuteNonQueryAsync(ct);
            return new Held(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The lock, held by a session of its own.</summary>
    public sealed class Held(NpgsqlConnection connection) : IAsyncDisposable
    {
        /// <summary>Throws when the session that held the lock is gone (a restart of the server, a dropped connection): jobs may have been archived since.</summary>
        public async Task EnsureHeld(CancellationToken ct)
        {
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteNonQueryAsync(ct);
        }

        // A session's lock outlives its connection's return to the pool: released before.
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection) { Parameters = { new() { Value = Key } } };
                await command.ExecuteNonQueryAsync();
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}
