using System.Diagnostics;
using EventSourced.EventStore;

namespace EventSourced.Api.Http;

public static class RequestMetadata
{
    /// <summary>
    /// What events appended for this request record about it: its trace as correlation, the request as cause, and who
    /// acted (by default the caller's credential, "key:{id}", which the key list names).
    /// </summary>
    public static EventMetadata Of(HttpContext http, string? actor = null) =>
        new(Activity.Current?.TraceId.ToString(), http.TraceIdentifier, actor ?? http.User.Identity?.Name ?? "api");
}
