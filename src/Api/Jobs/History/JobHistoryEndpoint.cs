using EventSourced.Api.Errors;
using System.Text.Json;
using EventSourced.Api.Tenancy;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;

namespace EventSourced.Api.Jobs.History;

public sealed record HistoryEntry(long Seq, long Version, string Type, DateTimeOffset Timestamp, JsonElement Data, EventMetadata Metadata);

public sealed record JobHistory(Guid JobId, IReadOnlyList<HistoryEntry> Events);

/// <summary>
/// GET /jobs/{id}/history: every event of the job, as stored, for auditors. With ?version=N or
/// ?at=2026-01-31T12:00:00Z, the history as it stood then.
/// </summary>
public static class JobHistoryEndpoint
{
    public static void MapHistory(this IEndpointRouteBuilder app) =>
        app.MapGet("/jobs/{id:guid}/history", Get).WithName("GetJobHistory").WithSummary("A job's full event history, optionally as of a version or a moment.");

    private static async Task<IResult> Get(
        Guid id, Tenant tenant, long? version, DateTimeOffset? at, JobQueries queries, PostgresEventStore store, CancellationToken ct)
    {
        if (await queries.Status(id, tenant.Id, ct) is null)
            return Problems.JobNotFound(id);
        if (version is not null && at is not null)
        {
            return Problems.Problem(StatusCodes.Status400BadRequest, "conflicting_parameters",
                "Ask for the history as of a version or as of a moment, not both.");
        }

        var events = version is { } v ? await store.ReadStreamAsOf(id, v, ct)
            : at is { } moment ? await store.ReadStreamAsOf(id, moment, ct)
            : await store.ReadStream(id, ct: ct);
        return TypedResults.Ok(new JobHistory(id, [.. events.Select(e => new HistoryEntry(
            e.Seq, e.Version, e.TypeName, e.Timestamp, JsonSerializer.SerializeToElement(e.Data, e.Data.GetType(), EventTypes.Json), e.Metadata))]));
    }
}
