using EventSourced.Api.JobTypes;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Retention;

/// <summary>
/// Archives the streams of jobs that finished longer ago than Jobs:AuditRetention (unset: never), with Marten's stream
/// archiving: their events leave the auditors' default view and every projection's replay, but are not deleted. The job's
/// read-model rows go with them, so the live read models equal a rebuild from the events that are not archived. Client
/// expiry (Jobs:ExpireAfter) comes first and is separate: a client loses a job long before an auditor does.
/// Every node archives; two that pick the same job both archive it, which is harmless.
/// </summary>
public sealed class AuditRetention(IDocumentStore store, JobStreams streams, IOptions<JobsOptions> options, TimeProvider clock, ILogger<AuditRetention> logger) : BackgroundService
{
    private const int BatchSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (options.Value.AuditRetention is not { } retention)
            return;
        using var timer = new PeriodicTimer(options.Value.ArchiveEvery, clock);
        try
        {
            do
            {
                try
                {
                    while (await ArchiveFinishedBefore(clock.GetUtcNow() - retention, stopping) == BatchSize)
                    {
                    }
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning("Could not archive finished jobs: {Error}", e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Archives up to a batch of jobs that finished before <paramref name="cutoff"/>, each tenant's in one transaction; returns how many.</summary>
    private async Task<int> ArchiveFinishedBefore(DateTimeOffset cutoff, CancellationToken ct)
    {
        IReadOnlyList<JobStatusView> due;
        await using (var query = store.QuerySession())
            due = await query.Query<JobStatusView>().Where(v => v.AnyTenant() && v.FinishedAt < cutoff).OrderBy(v => v.FinishedAt).Take(BatchSize).ToListAsync(ct);
        await streams.Archive(due, ct);
        if (due.Count > 0)
            logger.LogInformation("Archived {Count} jobs that finished before {Cutoff:O}.", due.Count, cutoff);
        return due.Count;
    }
}
