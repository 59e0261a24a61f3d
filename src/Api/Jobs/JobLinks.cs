using System.Globalization;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using Microsoft.Net.Http.Headers;

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
    /// ("banana", an unquoted 1) is a 400 invalid_if_match: ignored, it would turn a conditional write into an unconditional one.
    /// </summary>
    public static (long? Version, IResult? Problem) ExpectedVersion(HttpRequest request)
    {
        var value = request.Headers.IfMatch;
        if (string.IsNullOrWhiteSpace(value))
            return (null, null);
        // Strictly: the typed headers' lenient parse drops what it cannot read, which would make the write unconditional.
        if (!EntityTagHeaderValue.TryParseStrictList(value, out var tags) || tags.Count != 1)
        {
            return (null, Problems.Problem(StatusCodes.Status400BadRequest, "invalid_if_match", "The If-Match header is not valid.",
                $"If-Match must be the ETag of GET /jobs/{{id}}, such as If-Match: \"3\", or *; '{value}' is neither."));
        }
        var tag = tags[0];
        if (tag.Tag == "*")
            return (null, null);
        return (!tag.IsWeak && long.TryParse(tag.Tag.AsSpan(1, tag.Tag.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            && version > 0 ? version : 0, null);
    }
}
