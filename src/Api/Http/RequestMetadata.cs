using System.Diagnostics;
using EventSourced.EventStore;

namespace EventSourced.Api.Http;

public static class RequestMetadata
{
    /// <summary>What events appended for this request record about it: its trace as correlation, the request as cause, and who acted.</summary>
    public static EventMetadata Of(HttpContext http, string actor = "api") =>
        new(Activity.Current?.TraceId.ToString(), http.TraceIdentifier, actor);
}
