using System.Globalization;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs.Status;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.WebUtilities;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Search;

/// <param name="Next">The next page's URL, with the same filters; null after the last page.</param>
public sealed record JobSearchPage(IReadOnlyList<JobStatusResponse> Jobs, string? Next);

/// <summary>
/// GET /jobs: the tenant's jobs, newest first, filtered by status, type, correlationId and creation time (createdFrom
/// inclusive, createdTo exclusive), a page of limit (1-100, default 50) at a time. The cursor of the next page names the last
/// job shown, so paging stays exact while jobs are added. Each filter has an index that keeps a page cheap at millions of jobs.
/// </summary>
public static class SearchJobsEndpoint
{
    private const int DefaultLimit = 50;

    [Authorize(Policy = AccessPolicies.ReadJobs)]
    [WolverineGet("/jobs", OperationId = "SearchJobs")]
    [EndpointSummary("Find jobs by status, type, correlation id and creation time")]
    [Query("status", typeof(string), "queued, processing, completed, failed or cancelled.")]
    [Query("type", typeof(string), "The job type.")]
    [Query("correlationId", typeof(string), "The correlation id given at submission.")]
    [Query("createdFrom", typeof(DateTimeOffset), "Created at or after.")]
    [Query("createdTo", typeof(DateTimeOffset), "Created before.")]
    [Query("limit", typeof(int), "Jobs per page, 1 to 100 (50).")]
    [Query("cursor", typeof(string), "From the previous page's next URL.")]
    [Responds(StatusCodes.Status200OK, typeof(JobSearchPage))]
    [Problems(StatusCodes.Status400BadRequest, "validation_failed")]
    public static async Task<IResult> Search(HttpContext http, JobQueries queries, CancellationToken ct)
    {
        var q = http.Request.Query;
        var errors = new Dictionary<string, string[]>();
        JobStatus? status = null;
        if (q["status"].ToString() is { Length: > 0 } statusName)
        {
            if (Enum.GetValues<JobStatus>().FirstOrDefault(s => JobDecider.Name(s) == statusName) is var found && JobDecider.Name(found) == statusName)
                status = found;
            else
                errors["status"] = [$"Must be one of {string.Join(", ", Enum.GetValues<JobStatus>().Select(JobDecider.Name))}."];
        }
        var limit = DefaultLimit;
        if (q["limit"].Count > 0 && !(int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= RequestLimits.MaxJobsPage))
            errors["limit"] = [$"Must be a whole number from 1 to {RequestLimits.MaxJobsPage}."];
        var from = QueryValues.Moment(q, "createdFrom", errors);
        var to = QueryValues.Moment(q, "createdTo", errors);
        var after = q["cursor"].Count > 0 ? PageCursor.Read(q["cursor"].ToString()) : null;
        if (q["cursor"].Count > 0 && after is null)
            errors["cursor"] = ["Must be the cursor of a page's next URL, unchanged."];
        QueryValues.CheckNames(q, errors, "type", "correlationId");
        if (errors.Count > 0)
            return Problems.Validation(errors);

        var search = new JobSearch(status, QueryValues.Text(q, "type"), QueryValues.Text(q, "correlationId"), from, to, after, limit);
        var jobs = await queries.Search(Tenant.Of(http), search, ct);
        var links = JobLinks.For(http);
        var next = jobs.Count == limit
            ? QueryHelpers.AddQueryString(links.To("/jobs"), q.Where(p => p.Key != "cursor").Select(p => KeyValuePair.Create(p.Key, (string?)p.Value.ToString()))
                .Append(KeyValuePair.Create("cursor", (string?)PageCursor.Write(jobs[^1].CreatedAt, jobs[^1].Id))))
            : null;
        return TypedResults.Ok(new JobSearchPage([.. jobs.Select(j => JobStatusResponse.From(j, links))], next));
    }
}
