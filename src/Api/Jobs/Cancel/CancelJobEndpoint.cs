using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Scheduling;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Cancel;

public sealed record CancelAccepted(Guid JobId, string Status, bool CancellationRequested, long Version);

/// <summary>
/// POST /jobs/{id}/cancel: a queued job is cancelled at once, a running one is asked to stop (its
/// handler's token fires, on whichever node runs it). 409 when it already completed or failed;
/// asking again is harmless. An If-Match with the version (the ETag of GET /jobs/{id}) makes it
/// conditional: 412 when the job has moved on.
/// </summary>
public static class CancelJobEndpoint
{
    [Authorize(Policy = AccessPolicies.Cancel)]
    [WolverinePost("/jobs/{id:guid}/cancel", OperationId = "CancelJob")]
    [EndpointSummary("Cancel a job, or ask its runner to stop")]
    [RequestBody(typeof(ReasonRequest), Required = false, Example = """{"reason": "user left"}""")]
    [RequestHeaders("If-Match")]
    [Responds(StatusCodes.Status202Accepted, typeof(CancelAccepted), Headers = ["Location", "ETag"], Example = """
        {"jobId": "0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b", "status": "processing", "cancellationRequested": true, "version": 5}
        """)]
    [Problems(StatusCodes.Status400BadRequest, "invalid_if_match")]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "job_already_finished", "concurrent_change")]
    [Problems(StatusCodes.Status412PreconditionFailed, "version_mismatch")]
    [Problems(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding")]
    public static async Task<IResult> Cancel(Guid id, HttpContext http, JobStreams streams, IValidator<ReasonRequest> validator, CancellationToken ct)
    {
        // No job has the empty id, and the event store takes no stream by it (a 500, before this).
        if (id == Guid.Empty)
            return Problems.JobNotFound(id);
        var tenant = Tenant.Of(http);
        var (expectedVersion, invalid) = JobLinks.ExpectedVersion(http.Request);
        if (invalid is not null)
            return invalid;
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct, whenEmpty: ReasonRequest.None);
        if (problem is not null)
            return problem;

        var changed = (await streams.Execute(id, tenant, new JobCommand.CancelJob(request!.Reason), RequestMetadata.Of(http), ct, ifMatch: expectedVersion)).Job;
        http.Response.Headers.ETag = JobLinks.ETag(changed.Version);
        return TypedResults.Accepted(JobLinks.For(http).Status(id),
            new CancelAccepted(id, JobDecider.Name(changed.State.Status), changed.State.CancellationRequested, changed.Version));
    }
}
