namespace EventSourced.Api.Http;

/// <summary>A setting that cannot be used: start-up stops with its message, on one line.</summary>
public sealed class StartupSettingException(string message) : Exception(message);

/// <summary>
/// Where the service answers, for the URLs it gives out. They are absolute, because clients use them as they come: an
/// EventSource outside a page of this origin (Node, another origin) cannot resolve a relative one. Behind a proxy the request's
/// host is not the public one, so Api:PublicBaseUrl says what is; without it, the request's own scheme and host.
/// </summary>
public sealed class PublicUrls(Uri? configured)
{
    public const string Setting = "Api:PublicBaseUrl";

    private readonly string? _base = configured?.GetLeftPart(UriPartial.Path).TrimEnd('/');

    /// <summary>The setting, checked: an absolute http or https URL, without a query or fragment (paths are appended to it).</summary>
    public static PublicUrls From(IConfiguration configuration)
    {
        if (configuration[Setting] is not { Length: > 0 } value)
            return new PublicUrls(null);
        return Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0
            ? new PublicUrls(uri)
            : throw new StartupSettingException(
                $"{Setting} must be an absolute http or https URL without a query, such as https://jobs.example.com, not '{value}' (Api__PublicBaseUrl).");
    }

    /// <summary>The base of the URLs answered to <paramref name="request"/>; without a setting nor a request (a callback), none: paths stay relative.</summary>
    public string Base(HttpRequest? request) =>
        _base ?? (request is null ? "" : $"{request.Scheme}://{request.Host}{request.PathBase}");
}
