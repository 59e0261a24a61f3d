using System.Diagnostics;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using FluentValidation;

namespace EventSourced.Api.Jobs.Retry;

public sealed record RetryAccepted(Guid JobId, string Status, int Attempt, long Version);

/// <summary>
/// POST /jobs/{id}/retry: re-drives a dead letter (a failed job) as a new attempt, with a fresh set of
/// attempts. 409 when the job is not failed. Optional body {"reason"}, kept in the job's history.
/// </summary>
public static class RetryJobEndpoint
{
    public static void MapRetry(this IEndpointRouteBuilder app) =>
        app.MapPost("/jobs/{id:guid}/retry", Retry).WithName("RetryJob").WithSummary("Re-drive a failed job; optional body {\"reason\"}.");

    private static async Task<IResult> Retry(
        Guid id, Tenant tenant, HttpContext http, JobQueries queries, JobCommands commands, IValidator<ReasonRequest> validator, CancellationToken ct)
    {
        if (await queries.Status(id, tenant.Id, ct) is null)
            return Problems.JobNotFound(id);
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct, whenEmpty: ReasonRequest.None);
        if (problem is not null)
            return problem;

        var after = await commands.Execute(id, new JobCommand.RedriveJob(request!.Reason),
            new EventMetadata(Activity.Current?.TraceId.ToString(), http.TraceIdentifier, "api"), ct: ct);
        http.Response.Headers.ETag = JobLinks.ETag(after.Version);
        http.Response.Headers.RetryAfter = "1";
        return TypedResults.Accepted(JobLinks.Status(id), new RetryAccepted(id, JobDecider.Name(after.State.Status), after.State.Attempt, after.Version));
    }
}
