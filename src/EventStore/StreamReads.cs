using JasperFx.Events;
using Marten;

namespace EventSourced.EventStore;

/// <summary>
/// Reads of single streams that arrive together (the event streams of many clients, woken by one commit)
/// are answered by one Marten batch query per tenant instead of a query each: under load, far fewer round trips.
/// </summary>
public sealed class StreamReads(IDocumentStore store)
{
    private readonly Batcher<(Guid StreamId, string TenantId, long FromVersion), IReadOnlyList<IEvent>> _reads =
        new(reads => Read(store, reads), maxBatch: 256);

    /// <summary>The stream's events from <paramref name="fromVersion"/> on, in version order; none when the tenant has no such stream.</summary>
    public Task<IReadOnlyList<IEvent>> Read(Guid streamId, string tenantId, long fromVersion, CancellationToken ct) =>
        _reads.Run((streamId, tenantId, fromVersion), ct);

    private static async Task<IReadOnlyList<IReadOnlyList<IEvent>>> Read(IDocumentStore store, IReadOnlyList<(Guid StreamId, string TenantId, long FromVersion)> reads)
    {
        var results = new Task<IReadOnlyList<IEvent>>[reads.Count];
        foreach (var tenant in reads.Select((read, index) => (read, index)).GroupBy(r => r.read.TenantId))
        {
            await using var session = store.QuerySession(tenant.Key);
            var batch = session.CreateBatchQuery();
            foreach (var (read, index) in tenant)
                results[index] = batch.Events.FetchStream(read.StreamId, fromVersion: read.FromVersion);
            await batch.Execute();
        }
        return await Task.WhenAll(results);
    }
}
