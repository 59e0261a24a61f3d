using EventSourced.EventStore;

namespace EventSourced.Api.Http;

public static class RequestMetadata
{
    /// <summary>
    /// What events appended for this request record about it: the request as their cause, and who acted (by default the
    /// caller's credential, "key:{id}", which the key list names). Their correlation id is the job's, set where they are appended.
    /// </summary>
    public static EventMetadata Of(HttpContext http) => new(null, http.TraceIdentifier, Actor(http));

    /// <summary>Who the request acts as: its credential's name ("key:{id}"; "gateway:{tenant}" behind a trusted gateway).</summary>
    public static string Actor(HttpContext http) => http.User.Identity?.Name ?? "api";
}
