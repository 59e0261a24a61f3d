using EventSourced.EventStore;
using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventSourced.Scheduling;

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

/// <summary>Who holds a lease: the attempt it covers, the holder's name and the job's tenant.</summary>
public sealed record LeaseHolder(LeaseCheck Check, int Attempt, string Holder, string TenantId);

/// <summary>
/// The job_leases table: who holds a running job's current attempt, until when. Marten has no leases,
/// and Wolverine's nearest thing (an envelope owned by a node) is given back only once the node is
/// seen dead, a minute or more, where a lease runs out on its own. Not a projection: renewals are
/// frequent and are not history, and a rebuild of the read models must not drop running jobs' leases.
/// Expiry is judged by the database's clock, so nodes whose clocks drift still agree.
/// </summary>
public sealed class JobLeases(NpgsqlDataSource dataSource)
{
    public const string TableName = EventStoreSetup.Schema + ".job_leases";

    /// <summary>Created and upgraded with Marten's own schema, by the same migration.</summary>
    public static void Configure(StoreOptions options)
    {
        var leases = new Table(TableName);
        leases.AddColumn<Guid>("job_id").AsPrimaryKey();
        leases.AddColumn("tenant_id", "text").NotNull();
        leases.AddColumn<int>("attempt").NotNull();
        leases.AddColumn<Guid>("token").NotNull();
        leases.AddColumn("holder", "text").NotNull();
        // What the claim asked for: a renewal that names no length renews by it.
        leases.AddColumn("duration", "interval").NotNull();
        leases.AddColumn("expires_at", "timestamptz").NotNull();
        leases.Indexes.Add(new IndexDefinition("job_leases_by_expiry") { Columns = ["expires_at"] });
        options.Storage.ExtendedSchemaObjects.Add(leases);
    }

    /// <summary>
    /// Extends the lease by <paramref name="duration"/> from now (by the claim's length when null), if
    /// <paramref name="token"/> still holds it and it has not run out. Returns the new lease and whether
    /// someone asked to cancel the job, or null when the lease is lost. A job whose status row is missing (a damaged
    /// read model) keeps its lease all the same; a cancellation is seen at the next renewal after the row is back.
    /// With <paramref name="tenant"/>, only that tenant's lease: another's is lost, as one that does not exist.
    /// </summary>
    public async Task<(Lease Lease, bool CancellationRequested)?> Renew(Guid jobId, Guid token, string? tenant, TimeSpan? duration, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE {TableName} AS l SET duration = coalesce($3, l.duration), expires_at = clock_timestamp() + coalesce($3, l.duration)
            WHERE l.job_id = $1 AND l.token = $2 AND l.expires_at > now() AND ($4::text IS NULL OR l.tenant_id = $4)
            RETURNING l.attempt, l.expires_at, coalesce(
                (SELECT (j.data -> 'state' ->> 'cancellationRequested')::boolean
                 FROM {EventStoreSetup.Schema}.mt_doc_job_status AS j WHERE j.id = l.job_id AND j.tenant_id = l.tenant_id),
                false)
            """);
        command.Parameters.Add(new() { Value = jobId });
        command.Parameters.Add(new() { Value = token });
        command.Parameters.Add(new() { Value = (object?)duration ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = (object?)tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return (new Lease(jobId, reader.GetInt32(0), token, reader.GetFieldValue<DateTimeOffset>(1)), reader.GetBoolean(2));
    }

    /// <summary>
    /// Whether <paramref name="token"/> holds the job's lease, for which attempt, who took it, and the job's tenant. With
    /// <paramref name="tenant"/>, only that tenant's lease: another's is not held, as one that does not exist.
    /// </summary>
    public async Task<LeaseHolder> Check(Guid jobId, Guid token, string? tenant, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT attempt, expires_at > now(), holder, tenant_id FROM {TableName} WHERE job_id = $1 AND token = $2 AND ($3::text IS NULL OR tenant_id = $3)");
        command.Parameters.Add(new() { Value = jobId });
        command.Parameters.Add(new() { Value = token });
        command.Parameters.Add(new() { Value = (object?)tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return new LeaseHolder(LeaseCheck.NotHeld, 0, "", "");
        return new LeaseHolder(reader.GetBoolean(1) ? LeaseCheck.Held : LeaseCheck.Expired, reader.GetInt32(0), reader.GetString(2), reader.GetString(3));
    }

    /// <summary>Takes leases of <paramref name="duration"/> on claimed jobs, inside the claim's transaction; returns when each runs out.</summary>
    internal static async Task<Dictionary<Guid, DateTimeOffset>> Take(
        NpgsqlConnection connection, IReadOnlyList<(Guid JobId, string TenantId, int Attempt, Guid Token)> leases, string holder, TimeSpan duration, CancellationToken ct)
    {
        // From clock_timestamp(), not now(): now() is when the claim's transaction began, and under load a
        // claim can take long enough to hand its runner a lease that is nearly spent.
        await using var command = new NpgsqlCommand($"""
            INSERT INTO {TableName} (job_id, tenant_id, attempt, token, holder, duration, expires_at)
            SELECT job_id, tenant_id, attempt, token, $5, $6, clock_timestamp() + $6
            FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[]) AS l (job_id, tenant_id, attempt, token)
            ON CONFLICT (job_id) DO UPDATE SET (tenant_id, attempt, token, holder, duration, expires_at)
                = (excluded.tenant_id, excluded.attempt, excluded.token, excluded.holder, excluded.duration, excluded.expires_at)
            RETURNING job_id, expires_at
            """, connection);
        command.Parameters.Add(new() { Value = leases.Select(l => l.JobId).ToArray() });
        command.Parameters.Add(new() { Value = leases.Select(l => l.TenantId).ToArray() });
        command.Parameters.Add(new() { Value = leases.Select(l => l.Attempt).ToArray() });
        command.Parameters.Add(new() { Value = leases.Select(l => l.Token).ToArray() });
        command.Parameters.Add(new() { Value = holder });
        command.Parameters.Add(new() { Value = duration });
        var expiries = new Dictionary<Guid, DateTimeOffset>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            expiries[reader.GetGuid(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        return expiries;
    }

    /// <summary>
    /// Locks the leases of <paramref name="jobIds"/>, inside a sweep's transaction, and says for each
    /// which attempt it covers and whether it has run out (judged again now: a renewal may just have landed).
    /// </summary>
    internal static async Task<Dictionary<Guid, (int Attempt, bool Expired)>> Lock(NpgsqlConnection connection, Guid[] jobIds, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"SELECT job_id, attempt, expires_at < now() FROM {TableName} WHERE job_id = ANY($1) FOR UPDATE", connection);
        command.Parameters.Add(new() { Value = jobIds });
        var leases = new Dictionary<Guid, (int, bool)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            leases[reader.GetGuid(0)] = (reader.GetInt32(1), reader.GetBoolean(2));
        return leases;
    }

    /// <summary>Deletes the leases of <paramref name="jobIds"/> that have run out, inside a sweep's transaction.</summary>
    internal static async Task DeleteExpired(NpgsqlConnection connection, Guid[] jobIds, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"DELETE FROM {TableName} WHERE job_id = ANY($1) AND expires_at < now()", connection);
        command.Parameters.Add(new() { Value = jobIds });
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Takes a lease for each suspended job, held by nobody (a fresh token) and lasting until its wait ends, inside a
    /// sweep's transaction: the sweep then leaves the job alone until the wait is over.
    /// </summary>
    internal static async Task HoldForWaits(
        NpgsqlConnection connection, IReadOnlyList<(Guid JobId, string TenantId, int Attempt, string WaitingFor, DateTimeOffset Until)> waits, CancellationToken ct)
    {
        if (waits.Count == 0)
            return;
        await using var command = new NpgsqlCommand($"""
            INSERT INTO {TableName} (job_id, tenant_id, attempt, token, holder, duration, expires_at)
            SELECT job_id, tenant_id, attempt, gen_random_uuid(), 'waiting for the ' || waiting_for, until - now(), until
            FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::timestamptz[]) AS w (job_id, tenant_id, attempt, waiting_for, until)
            ON CONFLICT (job_id) DO UPDATE SET (tenant_id, attempt, token, holder, duration, expires_at)
                = (excluded.tenant_id, excluded.attempt, excluded.token, excluded.holder, excluded.duration, excluded.expires_at)
            """, connection);
        command.Parameters.Add(new() { Value = waits.Select(w => w.JobId).ToArray() });
        command.Parameters.Add(new() { Value = waits.Select(w => w.TenantId).ToArray() });
        command.Parameters.Add(new() { Value = waits.Select(w => w.Attempt).ToArray() });
        command.Parameters.Add(new() { Value = waits.Select(w => w.WaitingFor).ToArray() });
        command.Parameters.Add(new() { Value = waits.Select(w => w.Until.ToUniversalTime()).ToArray() });
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Gives the lease up, in the transaction that records the attempt's outcome: both commit or neither does. A token that
    /// no longer holds it changes nothing.
    /// </summary>
    internal static QueuedSql GiveUp(Guid jobId, Guid token) => new($"DELETE FROM {TableName} WHERE job_id = ? AND token = ?", jobId, token);
}
