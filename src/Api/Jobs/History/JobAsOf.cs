using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs.Status;
using EventSourced.Api.Tenancy;
using EventSourced.Projections.Jobs;
using Marten;

namespace EventSourced.Api.Jobs.History;

/// <summary>
/// GET /jobs/{id}?atVersion=N or ?asOf=2026-11-22T12:00:00Z: the job as it stood then, for whoever may read the job (its
/// full history, event by event, is /history, for auditors). Folded from its events
/// up to that point by Marten's live aggregation with the status projection (the domain's own evolve), not read from the
/// read model, so it holds for any past moment; an expired job is still shown, an archived one is not.
/// </summary>
public static class JobAsOf
{
    public static bool IsAsked(HttpRequest request) => request.Query.ContainsKey("atVersion") || request.Query.ContainsKey("asOf");

    public static async Task<IResult> Get(Guid id, HttpContext http, IDocumentStore store)
    {
        var (version, asOf, problem) = QueryValues.PointInHistory(http.Request.Query, "atVersion", "asOf");
        if (problem is not null)
            return problem;

        await using var session = store.QuerySession(Tenant.Of(http));
        var view = await session.Events.AggregateStreamAsync<JobStatusView>(id, version ?? 0, asOf, token: http.RequestAborted);
        if (view is not null)
            return TypedResults.Ok(JobStatusResponse.From(view, JobLinks.For(http)));
        var stream = await session.Events.FetchStreamStateAsync(id, http.RequestAborted);
        if (stream is null)
            return Problems.JobNotFound(id);
        // A version the job has not reached: as at every version since its last, it stands as it does now (as /history shows).
        if (version > stream.Version && await session.Events.AggregateStreamAsync<JobStatusView>(id, token: http.RequestAborted) is { } now)
            return TypedResults.Ok(JobStatusResponse.From(now, JobLinks.For(http)));
        return Problems.Problem(StatusCodes.Status404NotFound, "job_not_yet_submitted", "The job did not exist then.",
            $"Job {id} was submitted after {(asOf is null ? $"version {version}" : $"{asOf:O}")}, or its history is archived.");
    }
}
