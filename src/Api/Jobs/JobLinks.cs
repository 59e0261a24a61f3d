namespace EventSourced.Api.Jobs;

/// <summary>Where a job's resources live (relative, so they stay right behind a proxy), and its version as an entity tag.</summary>
public static class JobLinks
{
    public static string Status(Guid jobId) => $"/jobs/{jobId}";
    public static string Events(Guid jobId) => $"/jobs/{jobId}/events";
    public static string Result(Guid jobId) => $"/jobs/{jobId}/result";
    public static string History(Guid jobId) => $"/jobs/{jobId}/history";

    /// <summary>An ETag is the job's version: If-Match takes it back as the expected version.</summary>
    public static string ETag(long version) => $"\"{version}\"";

    /// <summary>
    /// The version an If-Match names: none without the header or with "*"; 0, which no job is at, for an entity
    /// tag that is not one of ours (a weak tag never matches one). A header that is not an entity tag at all
    /// ("banana", an unquoted 1) is a 400: ignored, it would turn a conditional write into an unconditional one.
    /// </summary>
    public static long? ExpectedVersion(HttpRequest request)
    {
        var value = request.Headers.IfMatch.ToString().Trim();
        if (value.Length == 0 || value == "*")
            return null;
        var tag = value.StartsWith("W/", StringComparison.Ordinal) ? value[2..] : value;
        if (tag.Length < 2 || tag[0] != '"' || tag[^1] != '"' || tag[1..^1].Contains('"', StringComparison.Ordinal))
        {
            throw new BadHttpRequestException(
                $"If-Match must be the ETag of GET /jobs/{{id}}, such as If-Match: \"3\", or *; '{value}' is neither.", StatusCodes.Status400BadRequest);
        }
        return tag == value && long.TryParse(tag.AsSpan(1, tag.Length - 2), out var version) && version > 0 ? version : 0;
    }
}
