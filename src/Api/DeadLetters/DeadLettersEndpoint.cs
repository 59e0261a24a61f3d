using System.Globalization;
using EventSourced.Domain.Jobs;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs;
using EventSourced.Api.Tenancy;
using EventSourced.Projections.Jobs;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace EventSourced.Api.DeadLetters;

public sealed record DeadLetter(Guid JobId, string Type, int Attempts, JobError? Error, DateTimeOffset CreatedAt, DateTimeOffset FailedAt, string StatusUrl, string RetryUrl);

public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, string? Next);

/// <summary>
/// GET /dead-letters: the tenant's failed jobs (attempts used up, or an error not worth retrying),
/// newest first, a page at a time. POST /jobs/{id}/retry re-drives one.
/// </summary>
public static class DeadLettersEndpoint
{
    private const int DefaultLimit = 50;

    [Authorize(Policy = AccessPolicies.Administer)]
    [WolverineGet("/dead-letters", OperationId = "DeadLetters")]
    [EndpointSummary("Jobs that failed for good, newest first, a page at a time")]
    [Query("limit", typeof(int), "Items per page, 1 to 200.")]
    [Query("after", typeof(string), "From the previous page's next URL.")]
    [Responds(StatusCodes.Status200OK, typeof(DeadLetterPage))]
    [Problems(StatusCodes.Status400BadRequest, "invalid_limit", "invalid_cursor")]
    public static async Task<IResult> List(HttpContext http, JobQueries queries, CancellationToken ct)
    {
        var (limitText, after) = (http.Request.Query["limit"].ToString(), http.Request.Query["after"].ToString());
        var limit = DefaultLimit;
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > RequestLimits.MaxDeadLettersPage))
            return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_limit", $"limit must be a whole number from 1 to {RequestLimits.MaxDeadLettersPage}.");
        (DateTimeOffset, Guid)? cursor = null;
        if (after.Length > 0)
        {
            if (PageCursor.Read(after) is not { } decoded)
                return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_cursor", "after must be the cursor from a previous page's next link.");
            cursor = decoded;
        }

        var views = await queries.DeadLetters(Tenant.Of(http), limit, cursor, ct);
        var links = JobLinks.For(http);
        var items = views.Select(v => new DeadLetter(v.Id, v.State.Type, v.State.Attempt, v.Error, v.CreatedAt, v.FinishedAt!.Value,
            links.Status(v.Id), $"{links.Status(v.Id)}/retry")).ToList();
        var next = views.Count == limit ? links.To($"/dead-letters?limit={limit}&after={PageCursor.Write(views[^1].FinishedAt!.Value, views[^1].Id)}") : null;
        return TypedResults.Ok(new DeadLetterPage(items, next));
    }
}
