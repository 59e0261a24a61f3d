using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Npgsql;
using static EventSourced.Domain.Jobs.JobCommand;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Jobs;

/// <summary>A job a runner now holds: its submission (type, input, policy), its state, its stream version and last sequence number, and its lease.</summary>
public sealed record ClaimedJob(JobSubmitted Submitted, string TenantId, Job State, long Version, long LastSeq, Lease Lease);

/// <summary>
/// Finds due jobs through the status read model and starts them, once each however many runners
/// race; and turns the leases of runners that stopped renewing into failed attempts.
/// </summary>
public sealed class JobQueue(PostgresEventStore store, TimeProvider clock)
{
    /// <summary>
    /// Claims up to <paramref name="max"/> queued jobs of <paramref name="types"/> that are due: appends
    /// their JobStarted and takes a lease of <paramref name="lease"/>, in one transaction. Runners do not
    /// queue behind each other: a job another runner is claiming is skipped, and the append's expected
    /// version settles any race.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedJob>> Claim(int max, IReadOnlyCollection<string> types, string worker, TimeSpan lease, CancellationToken ct)
    {
        if (max <= 0 || types.Count == 0)
            return [];
        var now = clock.GetUtcNow();
        await using var connection = await store.DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // Lock the streams rows, as every append does first, so a claim and an append to the same
        // job (a cancellation) take their locks in the same order and cannot deadlock.
        // Leases run from clock_timestamp(), not now(): now() is when this transaction began, and
        // under load a claim can take long enough to hand its runner a lease that is nearly spent.
        // One type at a time, so each scan walks the (type, due time) index in order and skips
        // locked rows as it goes; in a random order of types, so none starves behind another's backlog.
        var due = new List<Guid>();
        foreach (var type in types.OrderBy(_ => Random.Shared.Next()))
        {
            if (due.Count == max)
                break;
            due.AddRange(await Ids(connection, """
                SELECT s.id
                FROM job_status AS j
                JOIN streams AS s ON s.id = j.id
                WHERE j.status = 'queued' AND j.type = $2 AND j.run_after <= $1
                ORDER BY j.run_after
                LIMIT $3
                FOR UPDATE OF s SKIP LOCKED
                """, [new() { Value = now.UtcDateTime }, new() { Value = type }, new() { Value = max - due.Count }], ct));
        }
        if (due.Count == 0)
            return [];

        var starts = new List<(StreamAppend Append, JobSubmitted Submitted, string TenantId, Job State)>();
        foreach (var (streamId, tenantId, events, version) in await Jobs(connection, [.. due], ct))
        {
            var state = Job.Fold(events);
            // The read model said queued when the query's snapshot was taken; the stream, read under the lock, has the last word.
            if (state is not { Status: JobStatus.Queued })
                continue;
            var started = JobDecider.Decide(new StartJob(worker), state, now);
            starts.Add((new StreamAppend(streamId, version, [.. started], new EventMetadata(Actor: worker)), (JobSubmitted)events[0], tenantId,
                started.Aggregate(state, Job.Evolve)));
        }
        if (starts.Count == 0)
            return [];

        var outcomes = await store.AppendMany(connection, [.. starts.Select(s => s.Append)], ct);
        var claimed = outcomes.Zip(starts).Where(pair => pair.First.Result is not null).ToList();
        var tokens = claimed.Select(_ => Guid.NewGuid()).ToArray();
        var expiries = new Dictionary<Guid, DateTimeOffset>();
        await using (var leases = new NpgsqlCommand("""
            INSERT INTO job_leases (job_id, attempt, token, holder, expires_at)
            SELECT job_id, attempt, token, $4, clock_timestamp() + $5
            FROM unnest($1::uuid[], $2::int[], $3::uuid[]) AS l (job_id, attempt, token)
            ON CONFLICT (job_id) DO UPDATE
                SET attempt = excluded.attempt, token = excluded.token, holder = excluded.holder, expires_at = excluded.expires_at
            RETURNING job_id, expires_at
            """, connection))
        {
            leases.Parameters.Add(new() { Value = claimed.Select(c => c.Second.Append.StreamId).ToArray() });
            leases.Parameters.Add(new() { Value = claimed.Select(c => c.Second.State.Attempt).ToArray() });
            leases.Parameters.Add(new() { Value = tokens });
            leases.Parameters.Add(new() { Value = worker });
            leases.Parameters.Add(new() { Value = lease });
            await using var reader = await leases.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                expiries[reader.GetGuid(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        }
        await transaction.CommitAsync(CancellationToken.None);

        return [.. claimed.Select((c, i) => new ClaimedJob(c.Second.Submitted, c.Second.TenantId, c.Second.State, c.First.Result!.Version, c.First.Result!.LastSeq,
            new Lease(c.Second.Append.StreamId, c.Second.State.Attempt, tokens[i], expiries[c.Second.Append.StreamId])))];
    }

    /// <summary>
    /// Ends the attempts whose holder stopped renewing its lease (the process died, or hangs), and those
    /// of running jobs that have no lease at all (it was lost): each counts as a failed attempt,
    /// "lease_expired", retried after <paramref name="backoff"/>'s delay. Any number of nodes may sweep
    /// at once; each attempt is ended once. Returns how many were.
    /// </summary>
    public async Task<int> ExpireLeases(int max, Func<string, Backoff> backoff, string worker, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await store.DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // Streams first, as everywhere; then the leases themselves, checked again under the lock,
        // since a renewal may have landed after this statement's snapshot was taken.
        var candidates = await Ids(connection, """
            SELECT s.id
            FROM streams AS s
            WHERE s.id IN (
                SELECT job_id FROM job_leases WHERE expires_at < now()
                UNION ALL
                SELECT j.id FROM job_status AS j
                WHERE j.status = 'processing' AND NOT EXISTS (SELECT FROM job_leases AS l WHERE l.job_id = j.id))
            LIMIT $1
            FOR UPDATE OF s SKIP LOCKED
            """, [new() { Value = max }], ct);
        if (candidates.Length == 0)
            return 0;
        var leases = new Dictionary<Guid, (int Attempt, bool Expired)>();
        await using (var recheck = new NpgsqlCommand("SELECT job_id, attempt, expires_at < now() FROM job_leases WHERE job_id = ANY($1) FOR UPDATE", connection))
        {
            recheck.Parameters.Add(new() { Value = candidates });
            await using var reader = await recheck.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                leases[reader.GetGuid(0)] = (reader.GetInt32(1), reader.GetBoolean(2));
        }

        var failures = new List<StreamAppend>();
        foreach (var (streamId, _, events, version) in await Jobs(connection, candidates, ct))
        {
            var state = Job.Fold(events)!;
            var lease = leases.GetValueOrDefault(streamId, (state.Attempt, Expired: true));
            // A lease renewed meanwhile is left alone; one left behind by an attempt that already ended is removed below.
            if (!lease.Expired || state.Status != JobStatus.Processing || state.Attempt != lease.Attempt)
                continue;
            var failed = JobDecider.Decide(new FailAttempt(state.Attempt, "lease_expired",
                "The runner of this attempt stopped renewing its lease: its process died or stopped responding.",
                backoff(state.Type), Random.Shared.NextDouble()), state, now);
            failures.Add(new StreamAppend(streamId, version, [.. failed], new EventMetadata(Actor: worker)));
        }
        if (failures.Count > 0)
            await store.AppendMany(connection, failures, ct);
        await using (var delete = new NpgsqlCommand("DELETE FROM job_leases WHERE job_id = ANY($1) AND expires_at < now()", connection))
        {
            delete.Parameters.Add(new() { Value = candidates });
            await delete.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(CancellationToken.None);
        return failures.Count;
    }

    private static async Task<Guid[]> Ids(NpgsqlConnection connection, string sql, NpgsqlParameter[] parameters, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters);
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            ids.Add(reader.GetGuid(0));
        return [.. ids];
    }

    /// <summary>The jobs' tenants, events and versions, read on the claiming connection.</summary>
    private async Task<List<(Guid StreamId, string TenantId, List<JobEvent> Events, long Version)>> Jobs(NpgsqlConnection connection, Guid[] ids, CancellationToken ct) =>
        [.. (await store.ReadStreams(connection, ids, ct))
            .GroupBy(e => e.StreamId)
            .Select(stream => (stream.Key, stream.First().TenantId, stream.Select(e => (JobEvent)e.Data).ToList(), stream.Last().Version))];
}
