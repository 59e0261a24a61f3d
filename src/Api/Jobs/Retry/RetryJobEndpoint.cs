using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Scheduling;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Retry;

public sealed record RetryAccepted(Guid JobId, string Status, int Attempt, int MaxAttempts, long Version);

/// <summary>
/// POST /jobs/{id}/retry: re-drives a dead letter (a failed job) with a fresh set of attempts. 409 when
/// the job is not failed. Optional body {"reason", "maxAttempts", "timeoutSeconds"}, kept in the job's history; the
/// attempts and time-out, bounded as on submit, are the job's policy from then on.
/// </summary>
public static class RetryJobEndpoint
{
    [Authorize(Policy = AccessPolicies.Administer)]
    [WolverinePost("/jobs/{id:guid}/retry", OperationId = "RetryJob")]
    [EndpointSummary("Run a failed job again (a redrive)")]
    [RequestBody(typeof(RedriveRequest), Required = false)]
    [Responds(StatusCodes.Status202Accepted, typeof(RetryAccepted), Headers = ["Location", "ETag", "Retry-After"])]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "job_not_failed", "concurrent_change")]
    [Problems(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding")]
    public static async Task<IResult> Retry(
        Guid id, HttpContext http, JobStreams streams, IValidator<RedriveRequest> validator, JobTypeRegistry types, TimeProvider clock, CancellationToken ct)
    {
        // No job has the empty id, and the event store takes no stream by it (a 500, before this).
        if (id == Guid.Empty)
            return Problems.JobNotFound(id);
        var tenant = Tenant.Of(http);
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct, whenEmpty: RedriveRequest.None);
        if (problem is not null)
            return problem;

        var changed = (await streams.Execute(
            id, tenant, new JobCommand.RedriveJob(request!.Reason, request.MaxAttempts, request.TimeoutSeconds), RequestMetadata.Of(http), ct)).Job;
        http.Response.Headers.ETag = JobLinks.ETag(changed.Version);
        // A redriven job starts afresh: it is polled as a young one.
        var now = clock.GetUtcNow();
        RetryAfter.Set(http.Response, changed.State, now, now, types.Find(changed.State.Type) is { RunsInProcess: false }, now);
        return TypedResults.Accepted(JobLinks.For(http).Status(id),
            new RetryAccepted(id, JobDecider.Name(changed.State.Status), changed.State.Attempt, changed.State.MaxAttempts, changed.Version));
    }
}
