using System.Globalization;
using System.Text;
using EventSourced.Api.Access;
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
    public static async Task<IResult> List(HttpContext http, JobQueries queries, CancellationToken ct)
    {
        var (limitText, after) = (http.Request.Query["limit"].ToString(), http.Request.Query["after"].ToString());
        var limit = DefaultLimit;
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > RequestLimits.MaxDeadLettersPage))
            return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_limit", $"limit must be a whole number from 1 to {RequestLimits.MaxDeadLettersPage}.");
        (DateTimeOffset, Guid)? cursor = null;
        if (after.Length > 0)
        {
            if (Decode(after) is not { } decoded)
                return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_cursor", "after must be the cursor from a previous page's next link.");
            cursor = decoded;
        }

        var views = await queries.DeadLetters(Tenant.Of(http), limit, cursor, ct);
        var items = views.Select(v => new DeadLetter(v.Id, v.State.Type, v.State.Attempt, v.Error, v.CreatedAt, v.FinishedAt!.Value,
            JobLinks.Status(v.Id), $"/jobs/{v.Id}/retry")).ToList();
        var next = views.Count == limit ? $"/dead-letters?limit={limit}&after={Encode(views[^1].FinishedAt!.Value, views[^1].Id)}" : null;
        return TypedResults.Ok(new DeadLetterPage(items, next));
    }

    private static string Encode(DateTimeOffset failedAt, Guid jobId) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{failedAt.UtcTicks}:{jobId:N}")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The cursor's position, or null for anything a previous page could not have given (a tampered cursor is a 400, not a 500).</summary>
    private static (DateTimeOffset, Guid)? Decode(string cursor)
    {
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/').PadRight((cursor.Length + 3) / 4 * 4, '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split(':');
            return parts.Length == 2
                && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks
                && Guid.TryParseExact(parts[1], "N", out var id)
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
