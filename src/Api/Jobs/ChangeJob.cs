using EventSourced.Api.Errors;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using JasperFx;
using JasperFx.Events;
using Marten;
using Wolverine.Attributes;
using Wolverine.Marten;

namespace EventSourced.Api.Jobs;

/// <summary>
/// A command for one job, sent by the HTTP endpoints (cancel, retry, the workers' reports).
/// <paramref name="ExpectedVersion"/> is the version an If-Match named: the command is refused when the job is elsewhere.
/// </summary>
public sealed record ChangeJob([property: Identity] Guid JobId, JobCommand Command, long? ExpectedVersion, EventMetadata Metadata);

/// <summary>Where the job stands after the command, and its version (the new ETag).</summary>
public sealed record JobChanged(Job State, long Version);

/// <summary>
/// Wolverine's aggregate-handler workflow: it fetches the job's status document for writing (its version is
/// the one the append will expect), the pure decider decides on the job's state, and the events it returns are
/// appended and committed together, so a change made by anyone in between fails the commit rather than being
/// overwritten; Wolverine then decides again on the new state (see the retry policy in ApiHost).
/// </summary>
public static class ChangeJobHandler
{
    // Refusals (a finished job, a lost lease) are answers to the client, not failures of the service: whoever invoked
    // the command logs what it means (the HTTP problem map, a message handler's own failure), once and without a stack trace.
    [AggregateHandler]
    [WolverineLogging(telemetryEnabled: true, successLogLevel: LogLevel.None, executionLogLevel: LogLevel.None, FailureLogLevel = LogLevel.None)]
    public static async Task<(JobChanged, IEnumerable<object>)> Handle(
        ChangeJob change, JobStatusView? job, IEventStream<JobStatusView> stream, IDocumentSession session, TimeProvider clock)
    {
        if (job is null)
        {
            throw await session.Events.FetchStreamStateAsync(change.JobId) is null
                ? JobRuleViolation.NotFound(change.JobId)
                : new ReadModelRebuilding(change.JobId);
        }
        var version = stream.StartingVersion ?? job.Version;
        if (change.ExpectedVersion is { } expected && expected != version)
            throw new VersionMismatch(change.JobId, version);

        var events = JobDecider.Decide(change.Command, job.State, clock.GetUtcNow());
        await FeedHorizon.OpenTransactionBeforeNumbering(session, CancellationToken.None);
        session.CorrelationId = Job.CorrelationOf(job.Id, job.CorrelationId);
        session.CausationId = change.Metadata.CausationId;
        session.LastModifiedBy = change.Metadata.Actor;
        return (new JobChanged(events.Aggregate(job.State, Job.Evolve), version + events.Count), events);
    }
}
