using Marten;
using Npgsql;

namespace EventSourced.Projections.Stats;

/// <summary>A day of one job type: how its jobs ended, and how long they took from submission (null when none ended).</summary>
public sealed record DailyJobStats(string Type, DateOnly Day, long Completed, long Failed, long Cancelled, double? P50Ms, double? P95Ms, double? P99Ms);

/// <summary>Reads of <see cref="JobStatsProjection"/>: a tenant's days, and how far the projection has come.</summary>
public sealed class JobStatsQueries(NpgsqlDataSource dataSource, IDocumentStore store)
{
    public async Task<IReadOnlyList<DailyJobStats>> Daily(string tenantId, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT d.type, d.day, d.completed, d.failed, d.cancelled,
                   coalesce(array_agg(b.bucket ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{"{}"}'),
                   coalesce(array_agg(b.jobs ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{"{}"}')
            FROM {JobStatsProjection.Daily} AS d
            LEFT JOIN {JobStatsProjection.Durations} AS b USING (tenant_id, type, day)
            WHERE d.tenant_id = $1 AND d.day BETWEEN $2 AND $3
            GROUP BY d.type, d.day, d.completed, d.failed, d.cancelled
            ORDER BY d.day DESC, d.type
            """);
        command.Parameters.Add(new() { Value = tenantId });
        command.Parameters.Add(new() { Value = from });
        command.Parameters.Add(new() { Value = to });
        var days = new List<DailyJobStats>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var (buckets, jobs) = (reader.GetFieldValue<int[]>(5), reader.GetFieldValue<long[]>(6));
            days.Add(new DailyJobStats(reader.GetString(0), reader.GetFieldValue<DateOnly>(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                Percentile(buckets, jobs, 0.50), Percentile(buckets, jobs, 0.95), Percentile(buckets, jobs, 0.99)));
        }
        return days;
    }

    /// <summary>The global sequence number of the last event the projection has applied.</summary>
    public async Task<long> ProjectedUpTo(CancellationToken ct)
    {
        var shards = await store.Advanced.AllProjectionProgress(token: ct);
        return shards.FirstOrDefault(s => s.ShardName.StartsWith(JobStatsProjection.ProjectionName + ":", StringComparison.Ordinal))?.Sequence ?? 0;
    }

    /// <summary>The upper bound of the bucket that holds the <paramref name="share"/>-th duration, from a histogram in bucket order.</summary>
    public static double? Percentile(int[] buckets, long[] jobs, double share)
    {
        var total = jobs.Sum();
        if (total == 0)
            return null;
        var rank = Math.Ceiling(share * total);
        long seen = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            seen += jobs[i];
            if (seen >= rank)
                return Math.Round(JobStatsProjection.UpperBoundMs(buckets[i]));
        }
        return Math.Round(JobStatsProjection.UpperBoundMs(buckets[^1]));
    }
}
