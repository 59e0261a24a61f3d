using EventSourced.Api.Errors;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;

namespace EventSourced.Api.Jobs.Result;

/// <summary>GET /jobs/{id}/result: what a completed job produced, in its own content type (JSON, a CSV, ...).</summary>
public static class JobResultEndpoint
{
    public static void MapResult(this IEndpointRouteBuilder app) =>
        app.MapGet("/jobs/{id:guid}/result", Get).WithName("GetJobResult").WithSummary("A completed job's result.");

    private static async Task<IResult> Get(Guid id, Tenant tenant, JobQueries queries, CancellationToken ct)
    {
        var row = await queries.Status(id, tenant.Id, ct);
        if (row is null)
            return Problems.JobNotFound(id);
        if (row.Status != JobStatus.Completed || await queries.Result(id, ct) is not { } result)
        {
            var status = JobDecider.Name(row.Status);
            return Problems.Problem(StatusCodes.Status409Conflict, "job_not_completed",
                row.IsFinished ? "The job ended without a result." : "The job has no result yet.",
                $"Job {id} is {status}.",
                new Dictionary<string, object?> { ["jobStatus"] = status, ["statusUrl"] = JobLinks.Status(id) });
        }
        return TypedResults.Text(result.Body, result.ContentType);
    }
}
