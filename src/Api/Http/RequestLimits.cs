using EventSourced.Api.Errors;
using EventSourced.Domain.Jobs;

namespace EventSourced.Api.Http;

/// <summary>
/// Every limit on what a client sends, in one place. Each refusal is a 4xx problem that names the limit and its value,
/// and is made before anything is written. The values leave real clients far from them and keep any one request cheap.
/// (A job type's own input rules, such as a transcode's steps, belong to the job type.)
/// </summary>
public static class RequestLimits
{
    /// <summary>A request body: 1 MiB. Inputs and results describe work (a file is sent as its URL), and each is kept in the events forever.</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// Nesting of JSON objects and arrays: 32. No real input is deeper, and every reader of a stored job (our own, jsonb, a
    /// client's) has its own limit (System.Text.Json's default is 64): what we accept, each of them can read back.
    /// </summary>
    public const int MaxJsonDepth = 32;

    /// <summary>
    /// A JSON number: at most 100 characters, within what a 64-bit float holds, with an exponent of at most 3 digits. PostgreSQL's
    /// jsonb refuses 1e131072 and 0e-20000 outright, and stores 1e131071 (8 characters) as 131,072 digits.
    /// </summary>
    public const int MaxJsonNumberChars = 100, MaxJsonExponentDigits = 3;

    /// <summary>All request headers together, names and values: 16 KiB. Ours are short; this leaves room for a proxy's and a browser's.</summary>
    public const int MaxHeaderBytes = 16 * 1024;

    /// <summary>A request's path and query: 8 KiB. Every query value has its own bound; this one bounds what no value names.</summary>
    public const int MaxUrlChars = 8 * 1024;

    /// <summary>Kestrel's own limits, above ours, so that a client gets our problem rather than Kestrel's bare status with no body.</summary>
    public const int ServerMaxHeaderBytes = 64 * 1024, ServerMaxRequestLineBytes = 16 * 1024;

    /// <summary>An Idempotency-Key: 255 characters, the domain's, as the job id is derived from it.</summary>
    public const int MaxIdempotencyKeyChars = Idempotency.MaxKeyLength;

    /// <summary>An API key or a stream token: 200 characters. Ours are 60 and about 120; a longer one is none of ours, and is not hashed.</summary>
    public const int MaxCredentialChars = 200;

    /// <summary>A name or an identifier a client chooses: a job type, a correlation id, a worker, a content type, a webhook's id and type.</summary>
    public const int MaxNameChars = 200;

    /// <summary>A callback URL: 2,000 characters, what every browser and proxy carries.</summary>
    public const int MaxCallbackUrlChars = 2000;

    /// <summary>Why a job was cancelled, retried or handed back: 500 characters, a sentence or two for the history.</summary>
    public const int MaxReasonChars = 500;

    /// <summary>A progress report's message: 1,000 characters; it is sent on every progress event.</summary>
    public const int MaxProgressMessageChars = 1000;

    /// <summary>A failed attempt's error code (100 characters, a machine-readable word) and message (4,000, room for a short trace).</summary>
    public const int MaxErrorCodeChars = 100, MaxErrorMessageChars = 4000;

    /// <summary>Items of a list in a request (a worker's job types, a job's callback events): 100. There are far fewer of either.</summary>
    public const int MaxListItems = 100;

    /// <summary>A job's attempts (1 to 100) and time-out (1 s to 7 days), when a submission overrides its type's.</summary>
    public const int MaxAttempts = 100, MaxTimeoutSeconds = 7 * 24 * 3600;

    /// <summary>A worker's lease: 5 s (a heartbeat needs time to arrive) to an hour (a dead worker's job waits no longer).</summary>
    public const int MinLeaseSeconds = 5, MaxLeaseSeconds = 3600;

    /// <summary>Prefer: wait=N on a long poll or a claim: longer waits are cut to 60 s, which proxies between client and us keep open.</summary>
    public const int MaxPreferWaitSeconds = 60;

    /// <summary>Page sizes (limit=): jobs 100, dead letters 200, events 1,000; an NDJSON export of the events has none, as it streams.</summary>
    public const int MaxJobsPage = 100, MaxDeadLettersPage = 200, MaxEventsPage = 1000;

    /// <summary>
    /// Refuses, before anyone is asked for credentials, a request whose headers together exceed <see cref="MaxHeaderBytes"/> (431)
    /// or whose path and query exceed <see cref="MaxUrlChars"/> (414). Counts lengths the server already knows: no copies.
    /// </summary>
    public static void UseRequestLimits(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        var request = http.Request;
        if ((request.Path.Value?.Length ?? 0) + (request.QueryString.Value?.Length ?? 0) > MaxUrlChars)
        {
            return Problems.Problem(StatusCodes.Status414UriTooLong, "url_too_long", "The URL is too long.",
                $"A path and query are limited to {MaxUrlChars / 1024} KiB ({MaxUrlChars} characters).").ExecuteAsync(http);
        }
        if (HeaderBytes(request.Headers) > MaxHeaderBytes)
        {
            return Problems.Problem(StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers_too_large", "The request's headers are too large.",
                $"Headers are limited to {MaxHeaderBytes / 1024} KiB ({MaxHeaderBytes} bytes) in all, names and values.").ExecuteAsync(http);
        }
        return next(http);
    });

    /// <summary>The headers' size as sent over HTTP/1.1: "name: value\r\n" per value (characters, which is bytes for all but non-ASCII values).</summary>
    private static long HeaderBytes(IHeaderDictionary headers)
    {
        long total = 0;
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
                total += name.Length + 4 + (value?.Length ?? 0);
        }
        return total;
    }
}
