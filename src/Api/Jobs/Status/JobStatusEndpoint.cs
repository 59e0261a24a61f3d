using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Jobs.History;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore.Notifications;
using EventSourced.Projections.Jobs;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Status;

/// <param name="Attempt">The number of the current or last attempt, counting every start, as the history does.</param>
/// <param name="MaxAttempts">The number of the last attempt the job may make; a hand-back moves it on by one, a redrive by a fresh set.</param>
/// <param name="CompletedAt">When it completed; only for a completed job.</param>
/// <param name="FinishedAt">When it completed, failed for good or was cancelled.</param>
/// <param name="EventsUrl">The job's event stream with a fresh token for a browser's EventSource (GET /jobs/{id} only).</param>
/// <param name="WaitingFor">Who a suspended job waits for to report its outcome (a payment provider), until <paramref name="WaitingUntil"/>.</param>
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
    long Version,
    string? WaitingFor = null,
    DateTimeOffset? WaitingUntil = null,
    string? EventsUrl = null)
{
    public static JobStatusResponse From(JobStatusView view, JobLinks links)
    {
        var state = view.State;
        var completed = state.Status == JobStatus.Completed;
        return new JobStatusResponse(
            view.Id, state.Type, JobDecider.Name(state.Status), state.Progress, view.Message, state.Attempt, state.MaxAttempts,
            // When the next attempt is due, for a job waiting to be retried or run again.
            state.Status == JobStatus.Queued && state.Attempt > 0 ? view.RunAfter : null,
            state.CancellationRequested, view.CorrelationId, view.CreatedAt, view.UpdatedAt,
            completed ? view.FinishedAt : null, view.FinishedAt, completed ? links.Result(view.Id) : null, view.Error, view.Version,
            state.WaitingFor, state.WaitingUntil);
    }
}

/// <summary>
/// GET /jobs/{id}: the one cheap call that tells a client, back after hours, where its job stands.
/// One key lookup in the status read model; ETag is the version, so If-None-Match polling costs a 304.
/// With Prefer: wait=N as well (RFC 7240), it is a long poll: held until the job moves (200) or N seconds
/// pass (304), woken by the same notifications as the SSE streams, so a held request costs no queries.
/// With ?atVersion= or ?asOf=, the job as it stood then (<see cref="JobAsOf"/>).
/// </summary>
public static class JobStatusEndpoint
{
    [Authorize(Policy = AccessPolicies.ReadJobs)]
    [EnableRateLimiting(AccessModule.OpenStreams)]
    [WolverineGet("/jobs/{id:guid}", OperationId = "GetJob")]
    [EndpointSummary("Where a job stands (a long poll with Prefer: wait=N)")]
    [RequestHeaders("If-None-Match", "Prefer")]
    [Query("atVersion", typeof(long), "The job as it stood at this version (from 1).")]
    [Query("asOf", typeof(DateTimeOffset), "The job as it stood at this moment.")]
    [Responds(StatusCodes.Status200OK, typeof(JobStatusResponse), Headers = ["ETag", "Retry-After", "Preference-Applied"], Example = """
        {"jobId": "0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b", "type": "transcode", "status": "processing", "progress": 40, "message": "step 2 of 5",
         "attempt": 1, "maxAttempts": 3, "cancellationRequested": false, "createdAt": "2026-12-05T09:00:00+00:00",
         "updatedAt": "2026-12-05T09:00:02+00:00", "version": 4, "eventsUrl": "https://jobs.example.com/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/events?access_token=1795563427.default.7JjF5b"}
        """)]
    [Responds(StatusCodes.Status304NotModified, Headers = ["ETag", "Retry-After", "Preference-Applied"],
        Description = "The job is still at the version If-None-Match names (after the wait Prefer asked for).")]
    [Problems(StatusCodes.Status400BadRequest, "invalid_prefer_wait", "conflicting_parameters", "invalid_version", "invalid_timestamp")]
    [Problems(StatusCodes.Status404NotFound, "job_not_found", "job_not_yet_submitted")]
    [Problems(StatusCodes.Status410Gone, "job_expired")]
    public static async Task<IResult> Get(
        Guid id, HttpContext http, JobLookup lookup, StreamWatchers watchers, JobTypeRegistry types, TimeProvider clock, IHostApplicationLifetime lifetime,
        IDocumentStore store, StreamTokens tokens)
    {
        if (JobAsOf.IsAsked(http.Request))
            return await JobAsOf.Get(id, http, store);
        if (!PreferWait.TryRead(http.Request, out var wait))
            return PreferWait.Invalid();
        // Watch before the first read, so a change between the read and the wait still wakes the poll.
        using var watch = wait > TimeSpan.Zero ? watchers.Watch(id) : null;
        var (view, problem) = await lookup.Find(id, http, http.RequestAborted);
        if (view is null)
            return problem!;

        if (watch is not null && IsCurrent(http.Request, view))
        {
            http.Response.Headers["Preference-Applied"] = $"wait={(int)wait.TotalSeconds}";
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
            var deadline = clock.GetUtcNow() + wait;
            try
            {
                while (IsCurrent(http.Request, view) && deadline - clock.GetUtcNow() is { Ticks: > 0 } left
                       && await watch.WaitForAppend(left, stop.Token))
                {
                    if (watch.LatestVersion <= view.Version)
                        continue;
                    var (fresh, gone) = await lookup.Find(id, http, stop.Token);
                    if (fresh is null)
                        return gone!;
                    view = fresh;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The client left, or this node is stopping: a 304 sends the client to poll again, elsewhere.
            }
        }

        http.Response.Headers.ETag = JobLinks.ETag(view.Version);
        RetryAfter.Set(http.Response, view.State, view.RunAfter, view.CreatedAt, types.Find(view.State.Type) is { RunsInProcess: false }, clock.GetUtcNow());
        if (IsCurrent(http.Request, view))
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        var links = JobLinks.For(http);
        return TypedResults.Ok(JobStatusResponse.From(view, links) with { EventsUrl = await tokens.EventsUrl(links, id, view.TenantId, http.RequestAborted) });
    }

    /// <summary>True when If-None-Match names the job's version: the client already has it.</summary>
    private static bool IsCurrent(HttpRequest request, JobStatusView view)
    {
        var etag = JobLinks.ETag(view.Version);
        return request.GetTypedHeaders().IfNoneMatch.Any(tag => tag.Tag == etag || tag.Tag == "*");
    }
}
