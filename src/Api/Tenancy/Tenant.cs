using System.Text.RegularExpressions;
using EventSourced.Api.Access;

namespace EventSourced.Api.Tenancy;

/// <summary>
/// The tenant a request acts for: the one its API key belongs to (or, behind a trusted gateway, the one the gateway
/// names in X-Tenant-Id). A job id is derived from tenant and Idempotency-Key, and a job is only visible to its own tenant.
/// </summary>
public static partial class Tenant
{
    public const string Header = "X-Tenant-Id";

    /// <summary>The authenticated caller's tenant. Every route that reads or writes a tenant's data requires a caller.</summary>
    public static string Of(HttpContext http) =>
        http.User.FindFirst(AccessClaims.Tenant)?.Value
        ?? throw new InvalidOperationException($"{http.Request.Path} has no authenticated caller: its route must require one.");

    /// <summary>1 to 64 letters, digits, '.', '_' or '-'.</summary>
    public static bool IsValid(string tenant) => ValidId().IsMatch(tenant);

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ValidId();
}
