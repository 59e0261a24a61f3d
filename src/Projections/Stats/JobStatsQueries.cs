using Marten;
using Npgsql;

namespace EventSourced.Projections.Stats;

/// <summary>A day of one job type: how its jobs ended, and how long they took from submission (exact percentiles).</summary>
public sealed record DailyJobStats(string Type, DateOnly Day, long Completed, long Failed, long Cancelled, double P50Ms, double P95Ms, double P99Ms);

/// <summary>Reads of <see cref="JobStatsProjection"/>: a tenant's days, and how far the projection has come.</summary>
public sealed class JobStatsQueries(NpgsqlDataSource dataSource, IDocumentStore store)
{
    public async Task<IReadOnlyList<DailyJobStats>> Daily(string tenantId, DateOnly from, DateOnly to, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT type, (ended_at AT TIME ZONE 'UTC')::date AS day,
                   count(*) FILTER (WHERE outcome = 'completed'), count(*) FILTER (WHERE outcome = 'failed'), count(*) FILTER (WHERE outcome = 'cancelled'),
                   percentile_cont(0.50) WITHIN GROUP (ORDER BY duration_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms)
            FROM {JobStatsProjection.Jobs}
            WHERE tenant_id = $1 AND ended_at >= $2::date AT TIME ZONE 'UTC' AND ended_at < ($3::date + 1) AT TIME ZONE 'UTC'
            GROUP BY 1, 2
            ORDER BY 2 DESC, 1
            """);
        command.Parameters.Add(new() { Value = tenantId });
        command.Parameters.Add(new() { Value = from });
        command.Parameters.Add(new() { Value = to });
        var days = new List<DailyJobStats>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            days.Add(new DailyJobStats(reader.GetString(0), reader.GetFieldValue<DateOnly>(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                Math.Round(reader.GetDouble(5)), Math.Round(reader.GetDouble(6)), Math.Round(reader.GetDouble(7))));
        }
        return days;
    }

    /// <summary>The global sequence number of the last event the projection has applied.</summary>
    public async Task<long> ProjectedUpTo(CancellationToken ct)
    {
        var shards = await store.Advanced.AllProjectionProgress(token: ct);
        return shards.FirstOrDefault(s => s.ShardName.StartsWith(JobStatsProjection.ProjectionName + ":", StringComparison.Ordinal))?.Sequence ?? 0;
    }
}
