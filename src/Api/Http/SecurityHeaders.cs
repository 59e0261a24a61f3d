namespace EventSourced.Api.Http;

/// <summary>
/// Headers that keep browsers from misusing responses: nothing is sniffed into another type, framed or cached
/// (answers carry tenants' data; a job's own ETag still saves re-reading it), and no URL (a stream token in
/// it) leaks through Referer. Strict-Transport-Security only over HTTPS, where it means something. Set just before
/// the headers go out, so that they survive the exception handler, which clears a failed response's headers.
/// The API's answers are data, never run: their Content-Security-Policy lets nothing load. A page the service serves
/// (the reference page) names its own policy in its routes' metadata (<see cref="PageSecurityPolicy"/>).
/// </summary>
public static class SecurityHeaders
{
    public const string ApiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

    public static void UseSecurityHeaders(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        http.Response.OnStarting(() =>
        {
            var headers = http.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers.ContentSecurityPolicy = http.GetEndpoint()?.Metadata.GetMetadata<PageSecurityPolicy>()?.For(http) ?? ApiContentSecurityPolicy;
            headers["Referrer-Policy"] = "no-referrer";
            if (http.Request.IsHttps)
                headers.StrictTransportSecurity = "max-age=31536000";
            if (!headers.ContainsKey("Cache-Control"))
                headers.CacheControl = "no-store";
            return Task.CompletedTask;
        });
        return next(http);
    });
}

/// <summary>Endpoint metadata: the Content-Security-Policy of a page's route, in place of the API's, which would stop it running.</summary>
public sealed record PageSecurityPolicy(Func<HttpContext, string> For);
