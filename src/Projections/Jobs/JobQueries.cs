using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Marten;

namespace EventSourced.Projections.Jobs;

/// <summary>Reads of the job read models, always within one tenant: Marten filters every read by it.</summary>
public sealed class JobQueries(IDocumentStore store)
{
    /// <summary>
    /// A condition on an event query (Marten's MatchesSql; events are "d"): the event belongs to a job of the type given as
    /// its parameter. Events do not carry their job's type, and Marten's event LINQ has no join: the status row knows it.
    /// </summary>
    public const string EventOfJobType =
        "d.stream_id IN (SELECT j.id FROM " + EventStoreSetup.Schema + ".mt_doc_job_status AS j WHERE j.tenant_id = d.tenant_id AND j.type = ?)";

    // Status lookups that arrive together are answered by one query per tenant: under load, far fewer round trips.
    private readonly Batcher<(Guid JobId, string TenantId), JobStatusView?> _statuses = new(lookups => Load(store, lookups), maxBatch: 256);

    /// <summary>The job's status, or null when the tenant has no such job.</summary>
    public async Task<JobStatusView?> Status(Guid jobId, string tenantId, CancellationToken ct)
    {
        if (await _statuses.Run((jobId, tenantId), ct) is { } view)
            return view;
        // No document: either there is no such job, or its row was lost (a damaged read model, until a rebuild).
        // Folding its events answers both, so such a job never looks lost to its client.
        await using var session = store.QuerySession(tenantId);
        return await session.Events.AggregateStreamAsync<JobStatusView>(jobId, token: ct);
    }

    /// <summary>Whether the job's stream was archived (past the audit retention): its read-model rows are gone with it.</summary>
    public async Task<bool> IsArchived(Guid jobId, string tenantId, CancellationToken ct)
    {
        await using var session = store.QuerySession(tenantId);
        return (await session.Events.FetchStreamStateAsync(jobId, ct))?.IsArchived == true;
    }

    private static async Task<IReadOnlyList<JobStatusView?>> Load(IDocumentStore store, IReadOnlyList<(Guid JobId, string TenantId)> lookups)
    {
        var found = new Dictionary<(Guid, string), JobStatusView>();
        foreach (var tenant in lookups.GroupBy(l => l.TenantId))
        {
            await using var session = store.QuerySession(tenant.Key);
            foreach (var view in await session.LoadManyAsync<JobStatusView>([.. tenant.Select(l => l.JobId).Distinct()]))
                found[(view.Id, tenant.Key)] = view;
        }
        return [.. lookups.Select(l => found.GetValueOrDefault(l))];
    }

    /// <summary>
    /// A tenant's dead letters (failed jobs), newest first: a page of <paramref name="limit"/> after the
    /// one that ended with <paramref name="after"/>.
    /// </summary>
    public async Task<IReadOnlyList<JobStatusView>> DeadLetters(string tenantId, int limit, (DateTimeOffset FinishedAt, Guid JobId)? after, CancellationToken ct)
    {
        await using var session = store.QuerySession(tenantId);
        // Keyset paging on (finished_at, id), which LINQ cannot express: a where clause on the duplicated columns.
        var failed = $"where tenant_id = ? and status = '{JobStatus.Failed}'";
        return after is { } cursor
            ? await session.QueryAsync<JobStatusView>($"{failed} and (finished_at, id) < (?, ?) order by finished_at desc, id desc limit ?",
                ct, tenantId, cursor.FinishedAt, cursor.JobId, limit)
            : await session.QueryAsync<JobStatusView>($"{failed} order by finished_at desc, id desc limit ?", ct, tenantId, limit);
    }

    /// <summary>
    /// A page of a tenant's jobs, newest first, that match <paramref name="search"/>: keyset paging on (created_at, id), so a
    /// page costs the same however deep it is, and jobs added meanwhile neither shift nor repeat the pages after.
    /// </summary>
    public async Task<IReadOnlyList<JobStatusView>> Search(string tenantId, JobSearch search, CancellationToken ct)
    {
        var where = new List<string> { "tenant_id = ?" };
        var values = new List<object> { tenantId };
        void Add(string condition, params object[] args)
        {
            where.Add(condition);
            values.AddRange(args);
        }
        if (search.Status is { } status)
            Add("status = ?", status.ToString());
        if (search.Type is { } type)
            Add("type = ?", type);
        if (search.CorrelationId is { } correlationId)
            Add("correlation_id = ?", correlationId);
        if (search.CreatedFrom is { } from)
            Add("created_at >= ?", from);
        if (search.CreatedTo is { } to)
            Add("created_at < ?", to);
        if (search.After is var (createdAt, id))
            Add("(created_at, id) < (?, ?)", createdAt, id);
        values.Add(search.Limit);
        await using var session = store.QuerySession(tenantId);
        return await session.QueryAsync<JobStatusView>($"where {string.Join(" and ", where)} order by created_at desc, id desc limit ?", ct, [.. values]);
    }

    /// <summary>A completed job's result, or null when it has none (yet).</summary>
    public async Task<JobResultView?> Result(Guid jobId, string tenantId, CancellationToken ct)
    {
        await using var session = store.QuerySession(tenantId);
        return await session.LoadAsync<JobResultView>(jobId, ct);
    }
}

/// <summary>What a search of jobs asks for; <see cref="After"/> is the (created_at, id) of the last job of the previous page.</summary>
public sealed record JobSearch(
    JobStatus? Status, string? Type, string? CorrelationId, DateTimeOffset? CreatedFrom, DateTimeOffset? CreatedTo, (DateTimeOffset CreatedAt, Guid Id)? After, int Limit);
