using System.Text.RegularExpressions;
using EventSourced.EventStore;

namespace EventSourced.Api.Tenancy;

/// <summary>
/// The tenant a request acts for, from the X-Tenant-Id header ("default" without it). A job id is derived
/// from tenant and Idempotency-Key, and a job is only visible to its own tenant. The header is meant to be
/// set by a gateway that has authenticated the caller.
/// </summary>
public static partial class Tenant
{
    public const string Header = "X-Tenant-Id";

    /// <summary>The request's tenant; a malformed header is a 400.</summary>
    public static string Of(HttpContext http)
    {
        var value = http.Request.Headers[Header].ToString();
        if (value.Length == 0)
            return Tenants.Default;
        return ValidId().IsMatch(value) ? value : throw new BadHttpRequestException($"{Header} must be 1 to 64 letters, digits, '.', '_' or '-'.");
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ValidId();
}
