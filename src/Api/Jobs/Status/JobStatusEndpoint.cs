using EventSourced.Api.Errors;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;

namespace EventSourced.Api.Jobs.Status;

public sealed record JobError(string Code, string Message);

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
    string? ResultUrl,
    JobError? Error,
    long Version)
{
    public static JobStatusResponse From(JobStatusRow row) => new(
        row.Id, row.Type, JobDecider.Name(row.Status), row.Progress, row.Message, row.Attempt, row.MaxAttempts,
        // When the next attempt is due, for a job waiting to be retried or run again.
        row.Status == JobStatus.Queued && row.Attempt > 0 ? row.RunAfter : null,
        row.CancellationRequested, row.CorrelationId,
        row.CreatedAt, row.UpdatedAt, row.CompletedAt,
        row.Status == JobStatus.Completed ? JobLinks.Result(row.Id) : null,
        row.ErrorCode is null ? null : new JobError(row.ErrorCode, row.ErrorMessage ?? ""),
        row.Version);
}

/// <summary>
/// GET /jobs/{id}: the one cheap call that tells a client, back after hours, where its job stands.
/// One key lookup in the status read model; ETag is the version, so If-None-Match polling costs a 304.
/// </summary>
public static class JobStatusEndpoint
{
    public static void MapStatus(this IEndpointRouteBuilder app) =>
        app.MapGet("/jobs/{id:guid}", Get).WithName("GetJob").WithSummary("Where a job stands.");

    private static async Task<IResult> Get(Guid id, Tenant tenant, JobQueries queries, HttpContext http, CancellationToken ct)
    {
        var row = await queries.Status(id, tenant.Id, ct);
        if (row is null)
            return Problems.JobNotFound(id);

        var etag = JobLinks.ETag(row.Version);
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = "no-store";
        if (!row.IsFinished)
            http.Response.Headers.RetryAfter = "1";
        if (http.Request.GetTypedHeaders().IfNoneMatch.Any(tag => tag.Tag == etag || tag.Tag == "*"))
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        return TypedResults.Ok(JobStatusResponse.From(row));
    }
}
