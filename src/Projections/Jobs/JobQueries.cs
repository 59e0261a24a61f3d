using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Marten;

namespace EventSourced.Projections.Jobs;

/// <summary>Reads of the job read models, always within one tenant: Marten filters every read by it.</summary>
public sealed class JobQueries(IDocumentStore store)
{
    // Status lookups that arrive together are answered by one query per tenant: under load, far fewer round trips.
    private readonly Batcher<(Guid JobId, string TenantId), JobStatusView?> _statuses = new(lookups => Load(store, lookups), maxBatch: 256);

    /// <summary>The job's status, or null when the tenant has no such job.</summary>
    public async Task<JobStatusView?> Status(Guid jobId, string tenantId, CancellationToken ct)
    {
        if (await _statuses.Run((jobId, tenantId), ct) is { } view)
            return view;
        // No document: either there is no such job, or a rebuild of the read model has not reached it yet.
        // Folding its events answers both, so a job never looks lost while the read model is rebuilt.
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

    /// <summary>A completed job's result, or null when it has none (yet).</summary>
    public async Task<JobResultView?> Result(Guid jobId, string tenantId, CancellationToken ct)
    {
        await using var session = store.QuerySession(tenantId);
        return await session.LoadAsync<JobResultView>(jobId, ct);
    }
}
