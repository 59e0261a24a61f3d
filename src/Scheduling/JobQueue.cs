using System.Data;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using Marten;
using Microsoft.Extensions.Options;
using Npgsql;
using static EventSourced.Domain.Jobs.JobCommand;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Scheduling;

/// <summary>A job a runner now holds: its submission (type, input, policy), its tenant, its state, version and last sequence number, and its lease.</summary>
public sealed record ClaimedJob(JobSubmitted Submitted, string TenantId, Job State, long Version, long LastSeq, Lease Lease);

/// <summary>
/// Finds due jobs through the status read model and starts them, once each however many runners race;
/// and turns the leases of runners that stopped renewing into failed attempts. Each works in one
/// transaction: it locks the jobs' stream rows with SKIP LOCKED (which Marten has no API for), so runners
/// do not queue behind each other, then appends through the write port in that transaction (<see cref="JobStreams.In"/>), which
/// commits it: Marten hands the outbox's messages (callbacks) on after its own commit, and would send them before ours.
/// With a cap on each tenant's running jobs (<see cref="SchedulingOptions.MaxRunningPerTenant"/>), claims for
/// the same tenant count its running jobs one after another, under a lock of the tenant's.
/// </summary>
public sealed class JobQueue(JobStreams streams, NpgsqlDataSource dataSource, TimeProvider clock, IOptions<SchedulingOptions> options)
{
    private readonly int? _cap = options.Value.MaxRunningPerTenant;

    // The tenant each type last served on this node: the next claim starts after it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _lastTenant = new(StringComparer.Ordinal);

    private const string Status = EventStoreSetup.Schema + ".mt_doc_job_status";
    private const string Streams = EventStoreSetup.Schema + ".mt_streams";

    // The first key of the advisory locks that claims take on capped tenants (the second is a hash of the tenant):
    // any number that no other lock of two keys uses.
    private const int TenantClaimLock = 0x6a6f6273;

    /// <summary>
    /// Claims up to <paramref name="max"/> queued jobs of <paramref name="types"/> that are due (only those of
    /// <paramref name="onlyTenant"/> when it is given: a worker that serves one tenant): appends their JobStarted and
    /// takes a lease of <paramref name="lease"/> on each, in one transaction. <paramref name="worker"/> holds the leases and is
    /// named in JobStarted; <paramref name="actor"/> is who the events say acted (an external worker's key, or the node).
    /// </summary>
    public async Task<IReadOnlyList<ClaimedJob>> Claim(
        int max, IReadOnlyCollection<string> types, string? onlyTenant, string worker, string actor, TimeSpan lease, CancellationToken ct)
    {
        if (max <= 0 || types.Count == 0)
            return [];
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Read committed, whatever the server's default: the count of a capped tenant's running jobs must see what
        // committed before its lock was taken.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);

        // The stream rows are locked, as every append locks them, so a claim and an append to the same job
        // (a cancellation) take their locks in the same order and cannot deadlock. One type at a time, in a random
        // order of types, so none starves another; within a type, tenants take turns (FairlyDue).
        var due = new List<(Guid Id, string TenantId)>();
        foreach (var type in types.OrderBy(_ => Random.Shared.Next()))
        {
            if (due.Count == max)
                break;
            var after = _lastTenant.GetValueOrDefault(type, "");
            var claimed = await Due(connection, type, onlyTenant, _cap, now, max - due.Count, after, ct);
            due.AddRange(claimed);
            if (claimed.Count > 0)
                _lastTenant[type] = claimed[^1].TenantId;
        }
        if (due.Count == 0)
            return [];

        await using var write = streams.In(transaction);
        var ids = due.Select(d => d.Id).ToArray();
        // Both keys, tenant first, as the tables' primary keys have them: by id alone PostgreSQL scans the whole table
        // (measured: the claim's two reads cost 5.6 ms of PostgreSQL time per claim with 7,000 jobs stored, and grew with them).
        var tenants = due.Select(d => d.TenantId).Distinct().ToArray();
        var views = (await write.Reads.Query<JobStatusView>().Where(v => v.TenantIsOneOf(tenants) && v.Id.IsOneOf(ids)).ToListAsync(ct)).ToDictionary(v => v.Id);
        // The read model said queued when the first statement began; read again under the lock, it has the last word.
        // In the order Due offered them, so that a capped tenant keeps its oldest.
        var jobs = due.Select(d => views.GetValueOrDefault(d.Id)).OfType<JobStatusView>().Where(j => j.State.Status == JobStatus.Queued).ToList();
        if (_cap is { } cap)
            jobs = await WithinCap(connection, jobs, cap, ct);
        if (jobs.Count == 0)
            return [];
        var submissions = (await write.Reads.Events.QueryAllRawEvents().Where(e => e.TenantIsOneOf(tenants) && e.StreamId.IsOneOf(ids) && e.Version == 1).ToListAsync(ct))
            .ToDictionary(e => e.StreamId, e => (JobSubmitted)e.Data);
        var starts = jobs.Select(job => write.Decide(JobAt.Of(job), new StartJob(worker), new EventMetadata(Actor: actor))).ToList();
        var tokens = starts.Select(s => (s.JobId, s.TenantId, s.State.Attempt, Token: Guid.NewGuid())).ToList();
        var expiries = await JobLeases.Take(connection, tokens, worker, lease, ct);
        // Commits: the callbacks the events call for leave the outbox only after it, so none describes a job as it stood before.
        await write.Commit(ct);

        return [.. starts.Zip(tokens, (s, t) =>
        {
            var written = s.Written;
            return new ClaimedJob(submissions[t.JobId], written.Job.TenantId, written.Job.State, written.Job.Version, written.LastSeq,
                new Lease(t.JobId, written.Job.State.Attempt, t.Token, expiries[t.JobId]));
        })];
    }

    /// <summary>
    /// Ends the attempts whose holder stopped renewing its lease (the process died, or hangs), and those of
    /// running jobs that have no lease at all (it was lost): each counts as a failed attempt, "lease_expired",
    /// retried after the job's backoff. A suspended job's lease is instead stretched to the end of its wait, after
    /// which it fails, "wait_timed_out". Any number of nodes may sweep at once; each attempt is ended once.
    /// Returns how many were.
    /// </summary>
    public async Task<int> ExpireLeases(int max, string worker, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // Streams first, as everywhere; then the leases themselves, judged again under the lock.
        var candidates = await Ids(connection, $"""
            SELECT s.id
            FROM {Streams} AS s
            WHERE s.id IN (
                SELECT job_id FROM {JobLeases.TableName} WHERE expires_at < now()
                UNION ALL
                SELECT j.id FROM {Status} AS j
                WHERE j.status = '{JobStatus.Processing}' AND NOT EXISTS (SELECT FROM {JobLeases.TableName} AS l WHERE l.job_id = j.id))
            LIMIT $1
            FOR UPDATE OF s SKIP LOCKED
            """, [new() { Value = max }], ct);
        if (candidates.Length == 0)
            return 0;
        var leases = await JobLeases.Lock(connection, candidates, ct);

        await using var write = streams.In(transaction);
        var failures = 0;
        var waits = new List<(Guid JobId, string TenantId, int Attempt, string WaitingFor, DateTimeOffset Until)>();
        foreach (var job in await write.Reads.Query<JobStatusView>().Where(v => v.AnyTenant() && v.Id.IsOneOf(candidates)).ToListAsync(ct))
        {
            var (attempt, expired) = leases.GetValueOrDefault(job.Id, (job.State.Attempt, Expired: true));
            // A lease renewed meanwhile is left alone; one left behind by an attempt that already ended is removed below.
            if (!expired || job.State.Status != JobStatus.Processing || job.State.Attempt != attempt)
                continue;
            // A suspended job's runner let go of it on purpose: the job holds its own lease until its wait is over.
            if (job.State is { IsSuspended: true, WaitingUntil: { } until } && until > now)
            {
                waits.Add((job.Id, job.TenantId, attempt, job.State.WaitingFor!, until));
                continue;
            }
            write.Decide(JobAt.Of(job), new ExpireAttempt(attempt, Random.Shared.NextDouble()), new EventMetadata(Actor: worker));
            failures++;
        }
        await JobLeases.DeleteExpired(connection, candidates, ct);
        await JobLeases.HoldForWaits(connection, waits, ct);
        // Commits, and only then sends the callbacks the events call for (see Claim).
        await write.Commit(ct);
        return failures;
    }

    /// <summary>
    /// Up to <paramref name="max"/> due jobs of <paramref name="type"/>, locked, taken from the tenants with due work in
    /// turns: each tenant's oldest first, then each one's second, and so on, starting with the tenant after
    /// <paramref name="after"/> (the last one served), so one tenant's backlog of thousands does not make another's job
    /// wait behind it. The tenants are found by a skip scan of the due index (one probe per tenant), not by reading
    /// every queued job. Each tenant offers four times as many jobs as asked for: runners racing for the same tenant's
    /// oldest jobs skip those another has locked and take the next ones, rather than come away empty.
    /// With <paramref name="onlyTenant"/>, only that tenant's jobs. With a <paramref name="cap"/>, a tenant offers no more
    /// than the room it has left, so that one at its cap does not take the places of other tenants' jobs: a first guess,
    /// counted before any lock (<see cref="WithinCap"/> has the last word).
    /// </summary>
    private static async Task<List<(Guid Id, string TenantId)>> Due(
        NpgsqlConnection connection, string type, string? onlyTenant, int? cap, DateTimeOffset now, int max, string after, CancellationToken ct)
    {
        // One statement for both kinds of claim, so one prepared plan: the scan starts at the only tenant ($5) and stops
        // after one probe, rather than filter on it (a "$5 IS NULL OR tenant_id = $5" is no index bound in a generic plan).
        await using var command = new NpgsqlCommand($"""
            WITH RECURSIVE tenants (tenant_id) AS (
                (SELECT tenant_id FROM {Status}
                 WHERE status = '{JobStatus.Queued}' AND type = $2 AND tenant_id >= coalesce($5, '') ORDER BY tenant_id LIMIT 1)
                UNION ALL
                SELECT (SELECT j.tenant_id FROM {Status} AS j
                        WHERE j.status = '{JobStatus.Queued}' AND j.type = $2 AND j.tenant_id > t.tenant_id ORDER BY j.tenant_id LIMIT 1)
                FROM tenants AS t WHERE t.tenant_id IS NOT NULL AND $5 IS NULL
            ),
            due AS (
                SELECT d.id, d.tenant_id, row_number() OVER (PARTITION BY d.tenant_id ORDER BY d.run_after) AS turn
                FROM tenants AS t
                -- The tenant's room under the cap ($6), all types together; NULL (no limit, nothing counted) without one.
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN $6::int IS NOT NULL THEN greatest(0, $6 - (
                        SELECT count(*) FROM {Status} AS r WHERE r.tenant_id = t.tenant_id AND r.status = '{JobStatus.Processing}'))
                    END AS room) AS r
                CROSS JOIN LATERAL (
                    SELECT j.id, j.tenant_id, j.run_after FROM {Status} AS j
                    WHERE j.status = '{JobStatus.Queued}' AND j.type = $2 AND j.tenant_id = t.tenant_id AND j.run_after <= $1
                    ORDER BY j.run_after
                    LIMIT least($3 * 4, r.room)) AS d
                -- The first tenant at or after the only one may be another.
                WHERE t.tenant_id IS NOT NULL AND ($5 IS NULL OR t.tenant_id = $5)
            )
            SELECT s.id, s.tenant_id
            FROM due
            JOIN {Streams} AS s ON s.id = due.id AND s.tenant_id = due.tenant_id
            ORDER BY due.turn, due.tenant_id <= $4, due.tenant_id
            LIMIT $3
            FOR UPDATE OF s SKIP LOCKED
            """, connection);
        command.Parameters.Add(new() { Value = now });
        command.Parameters.Add(new() { Value = type });
        command.Parameters.Add(new() { Value = max });
        command.Parameters.Add(new() { Value = after });
        command.Parameters.Add(new() { Value = (object?)onlyTenant ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)cap ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        var due = new List<(Guid, string)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            due.Add((reader.GetGuid(0), reader.GetString(1)));
        return due;
    }

    /// <summary>
    /// Of <paramref name="jobs"/>, about to start, the first ones of each tenant that keep it within <paramref name="cap"/>
    /// processing jobs, counted across all nodes. Due's count raced with other claims; this one is exact, as claims for
    /// a tenant count one after another: each takes a lock of the tenant's, held till it commits, and counts once it
    /// holds it. The commit that releases the lock also makes its jobs processing (the status projection is inline),
    /// so the next claim for the tenant counts them. Finished jobs only ever make room, whenever they commit.
    /// </summary>
    private static async Task<List<JobStatusView>> WithinCap(NpgsqlConnection connection, List<JobStatusView> jobs, int cap, CancellationToken ct)
    {
        if (jobs.Count == 0)
            return jobs;
        var tenants = jobs.Select(j => j.TenantId).Distinct().ToArray();

        // Transaction-scoped advisory locks, keyed by a hash of the tenant (two tenants that share one only wait for
        // each other), taken in the order of their keys, so two claims never hold one each and wait for the other's.
        // The subquery sorts them before the outer query takes them.
        await using (var locks = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock({TenantClaimLock}, k.key)
            FROM (SELECT DISTINCT hashtext(tenant_id) AS key FROM unnest($1::text[]) AS tenant_id ORDER BY key) AS k
            """, connection))
        {
            locks.Parameters.Add(new() { Value = tenants });
            await locks.ExecuteNonQueryAsync(ct);
        }

        // A statement of its own, so that (in read committed) it sees what the claims that held the locks before committed.
        await using var count = new NpgsqlCommand($"""
            SELECT t.tenant_id, (SELECT count(*) FROM {Status} AS j WHERE j.tenant_id = t.tenant_id AND j.status = '{JobStatus.Processing}')
            FROM unnest($1::text[]) AS t (tenant_id)
            """, connection);
        count.Parameters.Add(new() { Value = tenants });
        var room = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var reader = await count.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                room[reader.GetString(0)] = cap - reader.GetInt64(1);
        }

        var within = new List<JobStatusView>();
        foreach (var job in jobs)
        {
            if (room[job.TenantId] > 0)
            {
                within.Add(job);
                room[job.TenantId]--;
            }
        }
        return within;
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
}
