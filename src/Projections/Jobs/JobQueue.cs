using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Npgsql;
using static EventSourced.Domain.Jobs.JobCommand;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Jobs;

/// <summary>A job a runner now holds: its submission (type and input), its state and its stream version.</summary>
public sealed record ClaimedJob(JobSubmitted Submitted, Job State, long Version);

/// <summary>Finds due jobs through the status read model and starts them, once each however many runners race.</summary>
public sealed class JobQueue(PostgresEventStore store, TimeProvider clock)
{
    /// <summary>
    /// Claims up to <paramref name="max"/> queued jobs of <paramref name="types"/> that are due, and
    /// appends their JobStarted, all in one transaction. Runners do not queue behind each other: a
    /// job another runner is claiming is skipped, and the append's expected version settles any race.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedJob>> Claim(int max, IReadOnlyCollection<string> types, string worker, CancellationToken ct)
    {
        if (max <= 0 || types.Count == 0)
            return [];
        var now = clock.GetUtcNow();
        await using var connection = await store.DataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // Lock the streams rows, as every append does first, so a claim and an append to the same
        // job (a cancellation) take their locks in the same order and cannot deadlock.
        var due = new List<Guid>();
        await using (var command = new NpgsqlCommand("""
            SELECT s.id
            FROM job_status AS j
            JOIN streams AS s ON s.id = j.id
            WHERE j.status = 'queued' AND j.run_after <= $1 AND j.type = ANY($2)
            ORDER BY j.run_after
            LIMIT $3
            FOR UPDATE OF s SKIP LOCKED
            """, connection))
        {
            command.Parameters.Add(new() { Value = now.UtcDateTime });
            command.Parameters.Add(new() { Value = types.ToArray() });
            command.Parameters.Add(new() { Value = max });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                due.Add(reader.GetGuid(0));
        }
        if (due.Count == 0)
            return [];

        var starts = new List<(StreamAppend Append, ClaimedJob Claimed)>();
        foreach (var stream in (await store.ReadStreams(connection, [.. due], ct)).GroupBy(e => e.StreamId))
        {
            var events = stream.Select(e => (JobEvent)e.Data).ToList();
            var state = Job.Fold(events);
            // The read model said queued when the query's snapshot was taken; the stream, read under the lock, has the last word.
            if (state is not { Status: JobStatus.Queued })
                continue;
            var started = JobDecider.Decide(new StartJob(worker), state, now);
            var version = stream.Last().Version;
            starts.Add((
                new StreamAppend(stream.Key, version, [.. started], new EventMetadata(Actor: worker)),
                new ClaimedJob((JobSubmitted)events[0], started.Aggregate(state, Job.Evolve), version + started.Count)));
        }
        if (starts.Count == 0)
            return [];

        var outcomes = await store.AppendMany(connection, [.. starts.Select(s => s.Append)], ct);
        await transaction.CommitAsync(CancellationToken.None);
        return [.. outcomes.Zip(starts).Where(pair => pair.First.Result is not null).Select(pair => pair.Second.Claimed)];
    }
}
