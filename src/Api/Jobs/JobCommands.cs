using EventSourced.Domain.Jobs;
using EventSourced.EventStore;

namespace EventSourced.Api.Jobs;

/// <summary>A job's state, the stream version it was read at, and its last event's sequence number.</summary>
public sealed record JobSnapshot(Job State, long Version, long LastSeq);

/// <summary>Runs a command against a job: read its events, decide, append at the version read.</summary>
public sealed class JobCommands(PostgresEventStore store, TimeProvider clock)
{
    private const int MaxRetries = 10;

    /// <summary>
    /// Executes <paramref name="command"/>. When someone else appends in between, it reads again and
    /// decides again, unless the caller pinned <paramref name="expectedVersion"/> (an If-Match):
    /// then the conflict is the caller's to see. <paramref name="known"/> saves the first read for a
    /// caller that holds the job's latest state (a runner). Returns the state after the command.
    /// </summary>
    public Task<JobSnapshot> Execute(
        Guid jobId, JobCommand command, EventMetadata metadata, long? expectedVersion = null, JobSnapshot? known = null, CancellationToken ct = default) =>
        Execute(jobId, _ => command, metadata, expectedVersion, known, ct);

    /// <summary>Executes the command <paramref name="command"/> makes from the job's current state (a failure needs its type's backoff).</summary>
    public async Task<JobSnapshot> Execute(
        Guid jobId, Func<Job, JobCommand> command, EventMetadata metadata, long? expectedVersion = null, JobSnapshot? known = null, CancellationToken ct = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            var cached = known is not null;
            var snapshot = known ?? await Read(jobId, ct) ?? throw JobRuleViolation.NotFound(jobId);
            known = null;
            if (expectedVersion is { } expected && expected != snapshot.Version)
                throw new WrongExpectedVersionException(jobId, expected, snapshot.Version);

            IReadOnlyList<JobEvent> events;
            try
            {
                events = JobDecider.Decide(command(snapshot.State), snapshot.State, clock.GetUtcNow());
            }
            catch (JobRuleViolation) when (cached)
            {
                // A cached state may be stale (someone asked to cancel meanwhile): only a fresh read may refuse.
                continue;
            }
            if (events.Count == 0)
                return snapshot;
            try
            {
                var appended = await store.Append(jobId, snapshot.Version, [.. events], metadata, ct);
                return new JobSnapshot(events.Aggregate(snapshot.State, Job.Evolve), appended.Version, appended.LastSeq);
            }
            catch (WrongExpectedVersionException) when (expectedVersion is null && attempt < MaxRetries)
            {
            }
        }
    }

    public async Task<JobSnapshot?> Read(Guid jobId, CancellationToken ct)
    {
        var events = await store.ReadStream(jobId, ct: ct);
        return events.Count == 0 ? null : new JobSnapshot(Job.Fold(events.Select(e => (JobEvent)e.Data))!, events[^1].Version, events[^1].Seq);
    }
}
