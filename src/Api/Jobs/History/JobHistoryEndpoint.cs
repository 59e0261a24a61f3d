using EventSourced.Api.Access;
using EventSourced.Api.Audit;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Tenancy;
using JasperFx.Events;
using Marten;
using Marten.Events.Archiving;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.History;

public sealed record JobHistory(Guid JobId, IReadOnlyList<AuditEvent> Events);

/// <summary>
/// GET /jobs/{id}/history: every event of the job, as stored, with who and what caused it, for auditors.
/// With ?version=N or ?at=2026-01-31T12:00:00Z, the history as it stood then. Once archived (past Jobs:AuditRetention),
/// 410 unless asked with ?includeArchived=true.
/// </summary>
public static class JobHistoryEndpoint
{
    [Authorize(Policy = AccessPolicies.Audit)]
    [WolverineGet("/jobs/{id:guid}/history", OperationId = "GetJobHistory")]
    [EndpointSummary("Every event of a job as stored, for auditors")]
    [Query("version", typeof(long), "The history up to this version (from 1).")]
    [Query("at", typeof(DateTimeOffset), "The history up to this moment.")]
    [Query("includeArchived", typeof(bool), "true to read an archived job's history.")]
    [Responds(StatusCodes.Status200OK, typeof(JobHistory))]
    [Problems(StatusCodes.Status400BadRequest, "conflicting_parameters", "invalid_version", "invalid_timestamp")]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status410Gone, "job_archived")]
    public static async Task<IResult> Get(Guid id, HttpContext http, IDocumentStore store, CancellationToken ct)
    {
        var (version, at, problem) = QueryValues.PointInHistory(http.Request.Query, "version", "at");
        if (problem is not null)
            return problem;

        await using var session = store.QuerySession(Tenant.Of(http));
        var stream = await session.Events.FetchStreamStateAsync(id, ct);
        if (stream is null)
            return Problems.JobNotFound(id);
        if (stream.IsArchived && http.Request.Query["includeArchived"] != "true")
        {
            return Problems.Problem(StatusCodes.Status410Gone, "job_archived", "The job's history is archived.",
                $"Job {id} finished longer ago than the audit retention (Jobs:AuditRetention). Ask with ?includeArchived=true to read it.");
        }
        var events = stream.IsArchived ? await Archived(session, id, version, at, ct) : await session.Events.FetchStreamAsync(id, version ?? 0, at, token: ct);
        return TypedResults.Ok(new JobHistory(id, [.. events.Select(AuditEvent.From)]));
    }

    /// <summary>An archived stream's events, which Marten's stream reads leave out.</summary>
    private static async Task<IReadOnlyList<IEvent>> Archived(IQuerySession session, Guid id, long? version, DateTimeOffset? at, CancellationToken ct)
    {
        var events = session.Events.QueryAllRawEvents().Where(e => e.StreamId == id && e.MaybeArchived());
        if (version is { } v)
            events = events.Where(e => e.Version <= v);
        if (at is { } t)
            events = events.Where(e => e.Timestamp <= t);
        return await events.OrderBy(e => e.Version).ToListAsync(ct);
    }
}
