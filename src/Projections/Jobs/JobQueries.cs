using EventSourced.EventStore;
using Npgsql;

namespace EventSourced.Projections.Jobs;

public sealed record JobResult(string ContentType, string Body)
{
    public bool IsJson => ContentType.Contains("json", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Reads of the job read models, each by primary key.</summary>
public sealed class JobQueries(NpgsqlDataSource dataSource)
{
    // Status lookups that arrive together are answered by one query: under load, far fewer round trips.
    private readonly Batcher<Guid, JobStatusRow?> _statuses = new(ids => Statuses(dataSource, ids), maxBatch: 256);

    /// <summary>The job's status row, or null when there is no such job for this tenant.</summary>
    public async Task<JobStatusRow?> Status(Guid jobId, string tenantId, CancellationToken ct) =>
        await _statuses.Run(jobId, ct) is { } row && row.TenantId == tenantId ? row : null;

    private static async Task<IReadOnlyList<JobStatusRow?>> Statuses(NpgsqlDataSource dataSource, IReadOnlyList<Guid> ids)
    {
        await using var command = dataSource.CreateCommand($"SELECT {JobStatusRow.Columns} FROM job_status WHERE id = ANY($1)");
        command.Parameters.Add(new() { Value = ids.ToArray() });
        var rows = new Dictionary<Guid, JobStatusRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = JobStatusRow.Read(reader);
            rows[row.Id] = row;
        }
        return [.. ids.Select(id => rows.GetValueOrDefault(id))];
    }

    /// <summary>Whether someone asked to cancel the job (a runner checks this when its job's stream moves).</summary>
    public async Task<bool> CancellationRequested(Guid jobId, CancellationToken ct) =>
        (await _statuses.Run(jobId, ct))?.CancellationRequested == true;

    /// <summary>
    /// A tenant's dead letters (failed jobs), newest first: a page of <paramref name="limit"/> after the
    /// one that ended with <paramref name="after"/>.
    /// </summary>
    public async Task<IReadOnlyList<JobStatusRow>> DeadLetters(string tenantId, int limit, (DateTimeOffset FailedAt, Guid JobId)? after, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {JobStatusRow.Columns} FROM job_status
            WHERE tenant_id = $1 AND status = 'failed' {(after is null ? "" : "AND (completed_at, id) < ($3, $4)")}
            ORDER BY completed_at DESC, id DESC
            LIMIT $2
            """);
        command.Parameters.Add(new() { Value = tenantId });
        command.Parameters.Add(new() { Value = limit });
        if (after is { } cursor)
        {
            command.Parameters.Add(new() { Value = cursor.FailedAt.UtcDateTime });
            command.Parameters.Add(new() { Value = cursor.JobId });
        }
        var rows = new List<JobStatusRow>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            rows.Add(JobStatusRow.Read(reader));
        return rows;
    }

    /// <summary>A completed job's result: JSON as JSON text, any other content type as its text.</summary>
    public async Task<JobResult?> Result(Guid jobId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT content_type,
                   CASE WHEN content_type LIKE '%json%' THEN body::text ELSE body #>> '{}' END
            FROM job_results WHERE job_id = $1
            """);
        command.Parameters.Add(new() { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new JobResult(reader.GetString(0), reader.GetString(1)) : null;
    }
}
