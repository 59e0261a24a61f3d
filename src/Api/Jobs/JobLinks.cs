using EventSourced.Api.Http;

namespace EventSourced.Api.Jobs;

/// <summary>Where a job's resources live, as absolute URLs from <paramref name="Base"/> (<see cref="PublicUrls"/>), and its version as an entity tag.</summary>
public sealed record JobLinks(string Base)
{
    /// <summary>The links answered to this request.</summary>
    public static JobLinks For(HttpContext http) => new(http.RequestServices.GetRequiredService<PublicUrls>().Base(http.Request));

    public string Status(Guid jobId) => $"{Base}/jobs/{jobId}";
    public string Events(Guid jobId) => $"{Base}/jobs/{jobId}/events";
    public string Result(Guid jobId) => $"{Base}/jobs/{jobId}/result";
    public string History(Guid jobId) => $"{Base}/jobs/{jobId}/history";

    /// <summary>Any other path of the service (a page's next link), from the same base.</summary>
    public string To(string pathAndQuery) => Base + pathAndQuery;

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
