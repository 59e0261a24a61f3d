using System.Globalization;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Tenancy;
using EventSourced.EventStore;
using EventSourced.Projections.Stats;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace EventSourced.Api.Stats;

/// <param name="ProjectedUpTo">The seq of the last event the statistics include.</param>
/// <param name="FeedHorizon">The seq the global feed has reached.</param>
/// <param name="EventsBehind">How many sequence numbers the statistics are behind the feed.</param>
public sealed record StatsLag(long ProjectedUpTo, long FeedHorizon, long EventsBehind);

public sealed record StatsResponse(IReadOnlyList<DailyJobStats> Days, StatsLag Lag);

/// <summary>
/// GET /stats?from=2026-11-01&amp;to=2026-11-30: per job type and day (UTC, the day jobs ended), how many completed, failed and
/// were cancelled, with duration percentiles from submission to end. Kept by an asynchronous projection on Marten's daemon
/// (one node runs it, another takes over when it dies), so it trails the events: "lag" says by how much. Default: the last 7 days.
/// </summary>
public static class StatsEndpoint
{
    [Authorize(Policy = AccessPolicies.Audit)]
    [WolverineGet("/stats", OperationId = "GetStats")]
    [EndpointSummary("Jobs submitted and ended per day and type")]
    [Query("from", typeof(DateOnly), "The first day (UTC); default six days before to.")]
    [Query("to", typeof(DateOnly), "The last day (UTC); default today.")]
    [Responds(StatusCodes.Status200OK, typeof(StatsResponse))]
    [Problems(StatusCodes.Status400BadRequest, "validation_failed")]
    public static async Task<IResult> Get(HttpContext http, JobStatsQueries stats, FeedHorizon horizon, TimeProvider clock, CancellationToken ct)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var errors = new Dictionary<string, string[]>();
        var to = Day(http.Request.Query, "to", today, errors);
        var from = Day(http.Request.Query, "from", to.AddDays(-6), errors);
        if (errors.Count == 0 && (from > to || to.DayNumber - from.DayNumber > 366))
            errors["from"] = ["Must be on or before 'to', and at most a year before it."];
        if (errors.Count > 0)
            return Problems.Validation(errors);

        var days = await stats.Daily(Tenant.Of(http), from, to, ct);
        var (projected, head) = (await stats.ProjectedUpTo(ct), await horizon.Current(ct));
        return TypedResults.Ok(new StatsResponse(days, new StatsLag(projected, head, Math.Max(0, head - projected))));
    }

    private static DateOnly Day(IQueryCollection query, string name, DateOnly fallback, Dictionary<string, string[]> errors)
    {
        if (query[name].Count == 0)
            return fallback;
        if (DateOnly.TryParseExact(query[name], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            return day;
        errors[name] = ["Must be a day such as 2026-11-24."];
        return fallback;
    }
}
