using EventSourced.EventStore;
using Npgsql;

namespace EventSourced.Projections.Jobs;

/// <summary>A holder's proof that it runs a job's current attempt, and until when.</summary>
public sealed record Lease(Guid JobId, int Attempt, Guid Token, DateTimeOffset ExpiresAt);

public enum LeaseCheck
{
    /// <summary>The token holds the job's lease, and it has not expired.</summary>
    Held,

    /// <summary>The token held it, but the lease ran out: the job will be (or was) given to someone else.</summary>
    Expired,

    /// <summary>The token does not hold this job's lease: wrong, or from an attempt that is over.</summary>
    NotHeld,
}

/// <summary>
/// The job_leases table. Expiry is judged by the database's clock, so nodes whose clocks drift
/// still agree on when a lease ran out.
/// </summary>
public sealed class JobLeases(NpgsqlDataSource dataSource)
{
    // Leases given up together (many jobs finishing at once) go in one statement.
    private readonly Batcher<(Guid JobId, Guid Token), bool> _releases = new(leases => Release(dataSource, leases), maxBatch: 256);

    /// <summary>
    /// Extends the lease by <paramref name="duration"/> from now, if <paramref name="token"/> still
    /// holds it and it has not run out. Returns the new lease and whether someone asked to cancel
    /// the job, or null when the lease is lost.
    /// </summary>
    public async Task<(Lease Lease, bool CancellationRequested)?> Renew(Guid jobId, Guid token, TimeSpan duration, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE job_leases AS l SET expires_at = clock_timestamp() + $3
            FROM job_status AS j
            WHERE l.job_id = $1 AND l.token = $2 AND l.expires_at > now() AND j.id = l.job_id
            RETURNING l.attempt, l.expires_at, j.cancellation_requested
            """);
        command.Parameters.Add(new() { Value = jobId });
        command.Parameters.Add(new() { Value = token });
        command.Parameters.Add(new() { Value = duration });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return (new Lease(jobId, reader.GetInt32(0), token, reader.GetFieldValue<DateTimeOffset>(1)), reader.GetBoolean(2));
    }

    /// <summary>Whether <paramref name="token"/> holds the job's lease, for which attempt, and who took it.</summary>
    public async Task<(LeaseCheck Check, int Attempt, string Holder)> Check(Guid jobId, Guid token, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT attempt, expires_at > now(), holder FROM job_leases WHERE job_id = $1 AND token = $2");
        command.Parameters.Add(new() { Value = jobId });
        command.Parameters.Add(new() { Value = token });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return (LeaseCheck.NotHeld, 0, "");
        return (reader.GetBoolean(1) ? LeaseCheck.Held : LeaseCheck.Expired, reader.GetInt32(0), reader.GetString(2));
    }

    /// <summary>Gives the lease up (the attempt's outcome is recorded). A token that no longer holds it changes nothing.</summary>
    public Task Release(Guid jobId, Guid token, CancellationToken ct) => _releases.Run((jobId, token), ct);

    private static async Task<IReadOnlyList<bool>> Release(NpgsqlDataSource dataSource, IReadOnlyList<(Guid JobId, Guid Token)> leases)
    {
        await using var command = dataSource.CreateCommand("""
            DELETE FROM job_leases AS l
            USING unnest($1::uuid[], $2::uuid[]) AS released (job_id, token)
            WHERE l.job_id = released.job_id AND l.token = released.token
            """);
        command.Parameters.Add(new() { Value = leases.Select(l => l.JobId).ToArray() });
        command.Parameters.Add(new() { Value = leases.Select(l => l.Token).ToArray() });
        await command.ExecuteNonQueryAsync();
        return [.. leases.Select(_ => true)];
    }
}
