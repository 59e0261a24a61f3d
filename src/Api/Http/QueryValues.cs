using System.Globalization;
using EventSourced.Api.Errors;

namespace EventSourced.Api.Http;

/// <summary>Values read from a query string, with the same rules and the same problems wherever they are read.</summary>
public static class QueryValues
{
    /// <summary>The value of <paramref name="name"/>, or null when it is absent or empty.</summary>
    public static string? Text(IQueryCollection query, string name) => query[name].ToString() is { Length: > 0 } value ? value : null;

    /// <summary>A moment (UTC unless it says otherwise); null when absent, and an error under <paramref name="name"/> when it is not one.</summary>
    public static DateTimeOffset? Moment(IQueryCollection query, string name, Dictionary<string, string[]> errors)
    {
        if (query[name].Count == 0)
            return null;
        if (DateTimeOffset.TryParse(query[name], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var moment))
            return moment;
        errors[name] = ["Must be a moment such as 2026-11-22T12:00:00Z."];
        return null;
    }

    /// <summary>
    /// A point in a job's history, asked by version (<paramref name="versionName"/>) or by moment (<paramref name="momentName"/>),
    /// not both; neither is the present. The problem is a 400 that names the parameter.
    /// </summary>
    public static (long? Version, DateTimeOffset? At, IResult? Problem) PointInHistory(IQueryCollection query, string versionName, string momentName)
    {
        var (version, at) = (query[versionName].ToString(), query[momentName].ToString());
        if (version.Length > 0 && at.Length > 0)
        {
            return (null, null, Problems.Problem(StatusCodes.Status400BadRequest, "conflicting_parameters",
                $"Ask as of a version ({versionName}) or as of a moment ({momentName}), not both."));
        }
        if (version.Length > 0)
        {
            return long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
                ? (v, null, null)
                : (null, null, Problems.Problem(StatusCodes.Status400BadRequest, "invalid_version", $"{versionName} must be a whole number from 1."));
        }
        if (at.Length > 0)
        {
            return DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                ? (null, t, null)
                : (null, null, Problems.Problem(StatusCodes.Status400BadRequest, "invalid_timestamp", $"{momentName} must be a moment such as 2026-11-22T12:00:00Z."));
        }
        return (null, null, null);
    }
}
