using System.Security.Claims;
using System.Text.Encodings.Web;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Access;

/// <summary>
/// The one authentication scheme: an API key as a bearer token; on a job's event stream, a browser's stream token
/// (access_token in the URL, as EventSource sends no headers); or, only when a gateway in front is trusted to
/// have authenticated the caller, its tenant headers, which then come first. Refusals are problems: 401 with WWW-Authenticate, or 403.
/// </summary>
public sealed class AccessAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeys keys, StreamTokens tokens, IOptions<AccessOptions> access)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string RolesHeader = "X-Roles";
    public const string JobTypesHeader = "X-Job-Types";
    public const string StreamTokenParameter = "access_token";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // Behind a trusted gateway, the gateway has authenticated the caller: whatever credential it passed on is its business.
        if (access.Value.TrustGatewayHeaders && Request.Headers[Tenant.Header] is [{ } tenant])
        {
            if (!Tenant.IsValid(tenant))
                return AuthenticateResult.Fail($"{Tenant.Header} must be 1 to 64 letters, digits, '.', '_' or '-'.");
            var roles = List(Request.Headers[RolesHeader].ToString());
            var types = List(Request.Headers[JobTypesHeader].ToString());
            return Success($"gateway:{tenant}", tenant, roles.Length > 0 ? roles : [Roles.Client], types.Length > 0 ? types : [AccessClaims.AnyJobType]);
        }
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                return AuthenticateResult.Fail("The Authorization header must be 'Bearer <API key>'.");
            var presented = authorization[7..].Trim();
            if (presented.Length > RequestLimits.MaxCredentialChars)
                return AuthenticateResult.Fail(new CredentialTooLong("An API key"));
            return await keys.Check(presented, Context.RequestAborted) is { } key
                ? Success($"key:{key.Id}", key.Tenant, key.Roles, key.JobTypes)
                : AuthenticateResult.Fail("The API key is not valid: unknown, revoked or mistyped.");
        }
        if (Request.Query[StreamTokenParameter] is [{ } token] && OpensStreams(Context)
            && Guid.TryParse(Context.GetRouteValue("id")?.ToString(), out var jobId))
        {
            if (token.Length > RequestLimits.MaxCredentialChars)
                return AuthenticateResult.Fail(new CredentialTooLong("A stream token"));
            return await tokens.Check(token, jobId, Context.RequestAborted) is { } opened
                ? Success($"stream:{jobId}", opened.Tenant, [], [], new Claim(AccessClaims.StreamOfJob, jobId.ToString()))
                : AuthenticateResult.Fail("The stream token is not valid for this job, or has expired: get a fresh eventsUrl from GET /jobs/{id}.");
        }
        return AuthenticateResult.NoResult();
    }

    /// <summary>Whether the route takes browsers' stream tokens: only a job's event stream does.</summary>
    private static bool OpensStreams(HttpContext http) =>
        http.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == AccessPolicies.FollowJob) == true;

    private static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private AuthenticateResult Success(string name, string tenant, IEnumerable<string> roles, IEnumerable<string> jobTypes, params Claim[] more)
    {
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, name), new Claim(AccessClaims.Tenant, tenant),
                .. roles.Select(r => new Claim(AccessClaims.Role, r)), .. jobTypes.Select(t => new Claim(AccessClaims.JobType, t)), .. more,
            ],
            SchemeName, ClaimTypes.Name, AccessClaims.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        Response.Headers.WWWAuthenticate = failure is null ? "Bearer realm=\"jobs\"" : "Bearer realm=\"jobs\", error=\"invalid_token\"";
        await Problems.Problem(StatusCodes.Status401Unauthorized,
            failure switch { null => "unauthenticated", CredentialTooLong => "credential_too_long", _ => "invalid_credentials" },
            failure is null ? "This needs an API key." : "The credentials are not valid.",
            failure?.Message ?? "Send Authorization: Bearer <API key>. An operator makes keys with ./run keys create.").ExecuteAsync(Context);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var roles = Context.User.FindAll(AccessClaims.Role).Select(c => c.Value).ToList();
        return Problems.Problem(StatusCodes.Status403Forbidden, "forbidden", "This credential may not do this.",
            roles.Count == 0 ? "A stream token opens only its own job's event stream." : $"Its roles are: {string.Join(", ", roles)}.").ExecuteAsync(Context);
    }
}

/// <summary>A credential longer than any of ours: refused unread, unhashed and unlooked-up.</summary>
public sealed class CredentialTooLong(string what)
    : Exception($"{what} is at most {RequestLimits.MaxCredentialChars} characters; this one is longer, so it is none of ours.");
