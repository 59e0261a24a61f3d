using System.Text.Json;
using System.Text.Json.Serialization;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Npgsql;
using NpgsqlTypes;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Jobs;

/// <summary>A row of job_status. Read by column (<see cref="Read"/>); saved in its JSON form (snake_case), by name.</summary>
public sealed record JobStatusRow(
    Guid Id,
    string TenantId,
    string Type,
    JobStatus Status,
    int Progress,
    string? Message,
    int Attempt,
    string IdempotencyKey,
    string Fingerprint,
    string? CorrelationId,
    string? CallbackUrl,
    string? ErrorCode,
    string? ErrorMessage,
    bool CancellationRequested,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt,
    DateTimeOffset? RunAfter,
    long Version,
    long LastSeq,
    int MaxAttempts,
    int Failures)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public bool IsFinished => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>The columns <see cref="Read"/> reads, in its order.</summary>
    public const string Columns = """
        id, tenant_id, type, status, progress, message, attempt, idempotency_key, fingerprint, correlation_id, callback_url,
        error_code, error_message, cancellation_requested, created_at, updated_at, completed_at, run_after, version, last_seq,
        max_attempts, failures
        """;

    /// <summary>A row selected as <see cref="Columns"/>: typed reads, cheaper for the database than building JSON.</summary>
    public static JobStatusRow Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), Enum.Parse<JobStatus>(r.GetString(3), ignoreCase: true), r.GetInt32(4),
        r.IsDBNull(5) ? null : r.GetString(5), r.GetInt32(6), r.GetString(7), r.GetString(8),
        r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10),
        r.IsDBNull(11) ? null : r.GetString(11), r.IsDBNull(12) ? null : r.GetString(12), r.GetBoolean(13),
        r.GetFieldValue<DateTimeOffset>(14), r.GetFieldValue<DateTimeOffset>(15),
        r.IsDBNull(16) ? null : r.GetFieldValue<DateTimeOffset>(16), r.IsDBNull(17) ? null : r.GetFieldValue<DateTimeOffset>(17),
        r.GetInt64(18), r.GetInt64(19), r.GetInt32(20), r.GetInt32(21));
}

/// <summary>
/// Keeps job_status inline with the events: loads the rows a batch touches, folds the events into
/// them in C#, and saves them in one statement. Status, attempt and progress come from the
/// domain's own fold, so the read model cannot disagree with the decisions.
/// </summary>
public sealed class JobStatusProjection : IProjection
{
    public string Name => "job_status";

    /// <summary>The row after <paramref name="e"/>. Deterministic: times come from the event, never the clock.</summary>
    public static JobStatusRow Evolve(JobStatusRow? row, StoredEvent e)
    {
        var jobEvent = (JobEvent)e.Data;
        if (row is not null && e.Version <= row.Version)
            return row;

        var job = Job.Evolve(row is null ? null : new Job(
            row.Id, row.Type, row.Status, row.Attempt, row.Progress, row.CancellationRequested, row.MaxAttempts, row.Failures), jobEvent);
        var next = (row, jobEvent) switch
        {
            (null, JobSubmitted s) => new JobStatusRow(
                e.StreamId, e.TenantId, s.Type, job.Status, job.Progress, null, job.Attempt, s.IdempotencyKey, s.Fingerprint,
                s.CorrelationId, s.CallbackUrl, null, null, job.CancellationRequested, s.At, s.At, null, RunAfter: s.At, e.Version, e.Seq,
                job.MaxAttempts, job.Failures),
            (null, _) => throw new InvalidOperationException($"Job {e.StreamId} has no job_status row to apply {e.TypeName} to."),
            (_, JobStarted) => row with { Message = null, RunAfter = null },
            (_, JobProgressed p) => row with { Message = p.Message },
            (_, JobCompleted c) => row with { Message = null, CompletedAt = c.At, ErrorCode = null, ErrorMessage = null },
            // The last attempt's error stays visible while the next one is due.
            (_, JobAttemptFailed a) => row with { Message = null, ErrorCode = a.ErrorCode, ErrorMessage = a.ErrorMessage, RunAfter = a.RetryAt },
            (_, JobFailed f) => row with { ErrorCode = f.ErrorCode, ErrorMessage = f.ErrorMessage, CompletedAt = f.At },
            (_, JobReleased r) => row with { Message = null, RunAfter = r.At },
            (_, JobRedriven r) => row with { ErrorCode = null, ErrorMessage = null, CompletedAt = null, RunAfter = r.At },
            (_, JobCancelled c) => row with { CompletedAt = c.At, RunAfter = null },
            _ => row,
        };
        return next with
        {
            Status = job.Status,
            Attempt = job.Attempt,
            Failures = job.Failures,
            Progress = job.Progress,
            CancellationRequested = job.CancellationRequested,
            UpdatedAt = jobEvent.At,
            Version = e.Version,
            LastSeq = e.Seq,
        };
    }

    public async Task Apply(NpgsqlConnection connection, IReadOnlyList<StoredEvent> events, CancellationToken ct)
    {
        var jobEvents = events.Where(e => e.Data is JobEvent).ToList();
        if (jobEvents.Count == 0)
            return;

        var rows = await Load(connection, [.. jobEvents.Where(e => e.Version > 1).Select(e => e.StreamId).Distinct()], ct);
        foreach (var e in jobEvents)
            rows[e.StreamId] = Evolve(rows.GetValueOrDefault(e.StreamId), e);
        await Save(connection, rows.Values, ct);
    }

    public async Task Clear(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("DELETE FROM job_status", connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<Dictionary<Guid, JobStatusRow>> Load(NpgsqlConnection connection, Guid[] ids, CancellationToken ct)
    {
        var rows = new Dictionary<Guid, JobStatusRow>();
        if (ids.Length == 0)
            return rows;
        await using var command = new NpgsqlCommand($"SELECT {JobStatusRow.Columns} FROM job_status WHERE id = ANY($1)", connection)
        {
            Parameters = { new() { Value = ids } },
        };
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var row = JobStatusRow.Read(reader);
            rows[row.Id] = row;
        }
        return rows;
    }

    private static async Task Save(NpgsqlConnection connection, IEnumerable<JobStatusRow> rows, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO job_status
            SELECT * FROM jsonb_populate_recordset(NULL::job_status, $1)
            ON CONFLICT (id) DO UPDATE SET
                (status, progress, message, attempt, failures, error_code, error_message, cancellation_requested,
                 updated_at, completed_at, run_after, version, last_seq)
              = (excluded.status, excluded.progress, excluded.message, excluded.attempt, excluded.failures, excluded.error_code, excluded.error_message,
                 excluded.cancellation_requested, excluded.updated_at, excluded.completed_at, excluded.run_after, excluded.version, excluded.last_seq)
            WHERE job_status.version < excluded.version
            """, connection)
        {
            Parameters = { new() { Value = JsonSerializer.Serialize(rows, JobStatusRow.Json), NpgsqlDbType = NpgsqlDbType.Jsonb } },
        };
        await command.ExecuteNonQueryAsync(ct);
    }
}
