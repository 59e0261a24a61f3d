using System.Globalization;
using EventSourced.Api.Errors;

namespace EventSourced.Api.Http;

/// <summary>Values read from a query string, with the same rules and the same problems wherever they are read.</summary>
public static class QueryValues
{
    /// <summary>The value of <paramref name="name"/>, or null when it is absent or empty.</summary>
    public static string? Text(IQueryCollection query, string name) => query[name].ToString() is { Length: > 0 } value ? value : null;

    /// <summary>
    /// Free-text filters (a job type, a correlation id): each at most <see cref="RequestLimits.MaxNameChars"/> characters, and
    /// without U+0000, which PostgreSQL cannot take as text. An error under the value's name for each that is not.
    /// </summary>
    public static void CheckNames(IQueryCollection query, Dictionary<string, string[]> errors, params string[] names)
    {
        foreach (var name in names)
        {
            var value = query[name].ToString();
            if (value.Length > RequestLimits.MaxNameChars)
                errors[name] = [$"Must be at most {RequestLimits.MaxNameChars} characters."];
            else if (value.Contains('\0', StringComparison.Ordinal))
                errors[name] = ["Must not contain the character U+0000: nothing stored holds it."];
        }
    }

    /// <summary>
    /// A moment, in UTC (the database takes no other offset); UTC unless it says otherwise. Null when absent, and an error under
    /// <paramref name="name"/> when it is not one, or not one in UTC (0001-01-01T00:00:00+01:00).
    /// </summary>
    public static DateTimeOffset? Moment(IQueryCollection query, string name, Dictionary<string, string[]> errors)
    {
        if (query[name].Count == 0)
            return null;
        if (TryParseMoment(query[name].ToString(), out var moment))
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
            return TryParseMoment(at, out var t)
                ? (null, t, null)
                : (null, null, Problems.Problem(StatusCodes.Status400BadRequest, "invalid_timestamp", $"{momentName} must be a moment such as 2026-11-22T12:00:00Z."));
        }
        return (null, null, null);
    }

    private static bool TryParseMoment(string text, out DateTimeOffset moment) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out moment);
}
