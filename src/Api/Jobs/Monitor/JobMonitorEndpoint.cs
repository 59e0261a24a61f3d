using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.JobTypes;
using EventSourced.Domain.Jobs;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Monitor;

public sealed record JobMonitorResponse(Guid JobId, string Status, int Progress, JobError? Error);

/// <summary>
/// GET /jobs/{id}/status: the status monitor of the asynchronous request-reply pattern, for clients that only
/// know how to poll and follow redirects. While the job runs: 200 with Retry-After (growing with the job's age).
/// Completed: 303 See Other to its result. Failed or cancelled: 200 with the error.
/// </summary>
public static class JobMonitorEndpoint
{
    [Authorize(Policy = AccessPolicies.ReadJobs)]
    [WolverineGet("/jobs/{id:guid}/status", OperationId = "MonitorJob")]
    [EndpointSummary("A status monitor for clients that poll and follow redirects")]
    [Responds(StatusCodes.Status200OK, typeof(JobMonitorResponse), Headers = ["Retry-After"], Description = "Running, or ended without a result (with its error).",
        Example = """{"jobId": "0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b", "status": "failed", "progress": 60, "error": {"code": "handler_error", "message": "The file is not a video."}}""")]
    [Responds(StatusCodes.Status303SeeOther, Headers = ["Location"], Description = "Completed: its result is at Location.")]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status410Gone, "job_expired")]
    public static async Task<IResult> Get(Guid id, HttpContext http, JobLookup lookup, JobTypeRegistry types, TimeProvider clock)
    {
        var (view, problem) = await lookup.Find(id, http, http.RequestAborted);
        if (view is null)
            return problem!;
        var state = view.State;
        if (state.Status == JobStatus.Completed)
        {
            http.Response.Headers.Location = JobLinks.For(http).Result(id);
            return TypedResults.StatusCode(StatusCodes.Status303SeeOther);
        }
        RetryAfter.Set(http.Response, state, view.RunAfter, view.CreatedAt, types.Find(state.Type) is { RunsInProcess: false }, clock.GetUtcNow());
        var error = state.Status switch
        {
            JobStatus.Failed => view.Error,
            JobStatus.Cancelled => new JobError("job_cancelled", "The job was cancelled."),
            _ => null,
        };
        return TypedResults.Ok(new JobMonitorResponse(id, JobDecider.Name(state.Status), state.Progress, error));
    }
}
