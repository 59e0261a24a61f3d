using System.Globalization;
using System.Text;
using EventSourced.Api.Errors;
using EventSourced.Api.Jobs;
using EventSourced.Api.Jobs.Status;
using EventSourced.Api.Tenancy;
using EventSourced.Projections.Jobs;

namespace EventSourced.Api.DeadLetters;

public sealed record DeadLetter(Guid JobId, string Type, int Attempts, JobError? Error, DateTimeOffset CreatedAt, DateTimeOffset FailedAt, string StatusUrl, string RetryUrl);

public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, string? Next);

/// <summary>
/// GET /dead-letters: the tenant's failed jobs (attempts used up, or an error not worth retrying),
/// newest first, a page at a time. POST /jobs/{id}/retry re-drives one.
/// </summary>
public static class DeadLettersEndpoint
{
    private const int DefaultLimit = 50, MaxLimit = 200;

    public static void MapDeadLetters(this IEndpointRouteBuilder app) =>
        app.MapGet("/dead-letters", List).WithName("DeadLetters").WithSummary("Failed jobs, newest first; ?limit=50&after=<cursor from next>.");

    private static async Task<IResult> List(Tenant tenant, int? limit, string? after, JobQueries queries, CancellationToken ct)
    {
        if (limit is < 1 or > MaxLimit)
            return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_limit", $"limit must be from 1 to {MaxLimit}.");
        (DateTimeOffset, Guid)? cursor = null;
        if (after is not null)
        {
            if (Decode(after) is not { } decoded)
                return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_cursor", "after must be the cursor from a previous page's next link.");
            cursor = decoded;
        }

        var size = limit ?? DefaultLimit;
        var rows = await queries.DeadLetters(tenant.Id, size, cursor, ct);
        var items = rows.Select(r => new DeadLetter(r.Id, r.Type, r.Attempt,
            r.ErrorCode is null ? null : new JobError(r.ErrorCode, r.ErrorMessage ?? ""),
            r.CreatedAt, r.CompletedAt!.Value, JobLinks.Status(r.Id), $"/jobs/{r.Id}/retry")).ToList();
        var next = rows.Count == size ? $"/dead-letters?limit={size}&after={Encode(rows[^1].CompletedAt!.Value, rows[^1].Id)}" : null;
        return TypedResults.Ok(new DeadLetterPage(items, next));
    }

    private static string Encode(DateTimeOffset failedAt, Guid jobId) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{failedAt.UtcTicks}:{jobId:N}")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (DateTimeOffset, Guid)? Decode(string cursor)
    {
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/').PadRight((cursor.Length + 3) / 4 * 4, '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split(':');
            return parts.Length == 2 && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var ticks) && Guid.TryParseExact(parts[1], "N", out var id)
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
