using EventSourced.Api.Errors;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Status;

/// <param name="Attempt">The number of the current or last attempt, counting every start, as the history does.</param>
/// <param name="MaxAttempts">The number of the last attempt the job may make; a hand-back moves it on by one, a redrive by a fresh set.</param>
/// <param name="CompletedAt">When it completed; only for a completed job.</param>
/// <param name="FinishedAt">When it completed, failed for good or was cancelled.</param>
public sealed record JobStatusResponse(
    Guid JobId,
    string Type,
    string Status,
    int Progress,
    string? Message,
    int Attempt,
    int MaxAttempts,
    DateTimeOffset? NextAttemptAt,
    bool CancellationRequested,
    string? CorrelationId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt,
    DateTimeOffset? FinishedAt,
    string? ResultUrl,
    JobError? Error,
    long Version)
{
    public static JobStatusResponse From(JobStatusView view)
    {
        var state = view.State;
        var completed = state.Status == JobStatus.Completed;
        return new JobStatusResponse(
            view.Id, state.Type, JobDecider.Name(state.Status), state.Progress, view.Message, state.Attempt, state.MaxAttempts,
            // When the next attempt is due, for a job waiting to be retried or run again.
            state.Status == JobStatus.Queued && state.Attempt > 0 ? view.RunAfter : null,
            state.CancellationRequested, view.CorrelationId, view.CreatedAt, view.UpdatedAt,
            completed ? view.FinishedAt : null, view.FinishedAt, completed ? JobLinks.Result(view.Id) : null, view.Error, view.Version);
    }
}

/// <summary>
/// GET /jobs/{id}: the one cheap call that tells a client, back after hours, where its job stands.
/// One key lookup in the status read model; ETag is the version, so If-None-Match polling costs a 304.
/// </summary>
public static class JobStatusEndpoint
{
    [WolverineGet("/jobs/{id:guid}", OperationId = "GetJob")]
    public static async Task<IResult> Get(Guid id, HttpContext http, JobQueries queries, JobTypeRegistry types, TimeProvider clock, CancellationToken ct)
    {
        var view = await queries.Status(id, Tenant.Of(http), ct);
        if (view is null)
            return Problems.JobNotFound(id);

        var etag = JobLinks.ETag(view.Version);
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = "no-store";
        RetryAfter.Set(http.Response, view.State, view.RunAfter, types.Find(view.State.Type) is { RunsInProcess: false }, clock.GetUtcNow());
        if (http.Request.GetTypedHeaders().IfNoneMatch.Any(tag => tag.Tag == etag || tag.Tag == "*"))
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        return TypedResults.Ok(JobStatusResponse.From(view));
    }
}
