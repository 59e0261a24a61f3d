using EventSourced.EventStore;
using Npgsql;
using NpgsqlTypes;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Jobs;

/// <summary>Keeps each completed job's result in job_results.</summary>
public sealed class JobResultProjection : IProjection
{
    public string Name => "job_results";

    public async Task Apply(NpgsqlConnection connection, IReadOnlyList<StoredEvent> events, CancellationToken ct)
    {
        var completed = events.Where(e => e.Data is JobCompleted).Select(e => (e.StreamId, Event: (JobCompleted)e.Data)).ToList();
        if (completed.Count == 0)
            return;
        await using var command = new NpgsqlCommand("""
            INSERT INTO job_results (job_id, content_type, body, completed_at)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[])
            ON CONFLICT (job_id) DO NOTHING
            """, connection)
        {
            Parameters =
            {
                new() { Value = completed.Select(c => c.StreamId).ToArray() },
                new() { Value = completed.Select(c => c.Event.ResultContentType).ToArray() },
                new() { Value = completed.Select(c => c.Event.Result.GetRawText()).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb },
                new() { Value = completed.Select(c => c.Event.At.ToUniversalTime()).ToArray() },
            },
        };
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task Clear(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("DELETE FROM job_results", connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}
