using System.Diagnostics;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using FluentValidation;

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
    public static void MapCancel(this IEndpointRouteBuilder app) =>
        app.MapPost("/jobs/{id:guid}/cancel", Cancel).WithName("CancelJob").WithSummary("Cancel a job; optional body {\"reason\"}, optional If-Match.");

    private static async Task<IResult> Cancel(
        Guid id, Tenant tenant, HttpContext http, JobQueries queries, JobCommands commands, IValidator<ReasonRequest> validator, CancellationToken ct)
    {
        if (await queries.Status(id, tenant.Id, ct) is null)
            return Problems.JobNotFound(id);
        if (!TryExpectedVersion(http, out var expectedVersion))
        {
            return Problems.Problem(StatusCodes.Status412PreconditionFailed, "version_mismatch",
                "If-Match does not name a version of this job.", "Send the ETag of GET /jobs/{id}, such as If-Match: \"3\".");
        }
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct, whenEmpty: ReasonRequest.None);
        if (problem is not null)
            return problem;

        var after = await commands.Execute(id, new JobCommand.CancelJob(request!.Reason),
            new EventMetadata(Activity.Current?.TraceId.ToString(), http.TraceIdentifier, "api"), expectedVersion, ct: ct);
        http.Response.Headers.ETag = JobLinks.ETag(after.Version);
        return TypedResults.Accepted(JobLinks.Status(id),
            new CancelAccepted(id, JobDecider.Name(after.State.Status), after.State.CancellationRequested, after.Version));
    }

    /// <summary>The version an If-Match names; null without one (or with "*"). False when it names no version at all.</summary>
    private static bool TryExpectedVersion(HttpContext http, out long? version)
    {
        version = null;
        var tags = http.Request.GetTypedHeaders().IfMatch;
        if (tags.Count == 0 || tags.Any(t => t.Tag == "*"))
            return true;
        var strong = tags.FirstOrDefault(t => !t.IsWeak);
        if (strong is null || !long.TryParse(strong.Tag.ToString().Trim('"'), out var named) || named <= 0)
            return false;
        version = named;
        return true;
    }
}
