using System.Text.Json;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Net.Http.Headers;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Result;

/// <summary>GET /jobs/{id}/result: what a completed job produced, in its own content type (JSON, a CSV, ...).</summary>
public static class JobResultEndpoint
{
    /// <summary>
    /// Content types served inline: data a browser will not run as a page or a script. A worker may send
    /// any type, and this origin must not serve its HTML or SVG as a page: any other is an attachment.
    /// </summary>
    private static readonly HashSet<string> Inline = new(StringComparer.OrdinalIgnoreCase) { "application/json", "text/csv", "text/plain" };

    [Authorize(Policy = AccessPolicies.ReadJobs)]
    [WolverineGet("/jobs/{id:guid}/result", OperationId = "GetJobResult")]
    [EndpointSummary("The result of a completed job, in its own content type")]
    [Responds(StatusCodes.Status200OK, typeof(JsonElement), ContentTypes = ["application/json", "text/csv", "*/*"],
        Description = "The result, in the content type its job gave it (JSON; text/csv for a report).")]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "job_not_completed")]
    [Problems(StatusCodes.Status410Gone, "job_expired")]
    public static async Task<IResult> Get(Guid id, HttpContext http, JobLookup lookup, JobQueries queries, CancellationToken ct)
    {
        var tenant = Tenant.Of(http);
        var (view, problem) = await lookup.Find(id, http, ct);
        if (view is null)
            return problem!;
        if (view.State.Status != JobStatus.Completed || await queries.Result(id, tenant, ct) is not { } result)
        {
            var status = JobDecider.Name(view.State.Status);
            return Problems.Problem(StatusCodes.Status409Conflict, "job_not_completed",
                view.State.IsFinished ? "The job ended without a result." : "The job has no result yet.",
                $"Job {id} is {status}.",
                new Dictionary<string, object?> { ["jobStatus"] = status, ["statusUrl"] = JobLinks.For(http).Status(id) });
        }

        http.Response.Headers.XContentTypeOptions = "nosniff";
        var mediaType = MediaTypeOf(result.ContentType);
        var isJson = IsJson(result.ContentType);
        if (!isJson && !Inline.Contains(mediaType))
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"{id}-result\"";
        // JSON is served as the JSON it is; any other content type was stored as a JSON string holding its text.
        return TypedResults.Text(isJson || result.Body.ValueKind != JsonValueKind.String ? result.Body.GetRawText() : result.Body.GetString(), result.ContentType);
    }

    /// <summary>True for JSON (application/json or a +json type), which is stored and served as the JSON it is.</summary>
    public static bool IsJson(string? contentType) =>
        MediaTypeOf(contentType) is var type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static string MediaTypeOf(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType.Value ?? "" : "";
}
