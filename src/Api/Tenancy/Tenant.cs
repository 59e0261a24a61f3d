using System.Text.RegularExpressions;
using EventSourced.EventStore;

namespace EventSourced.Api.Tenancy;

/// <summary>
/// The tenant a request acts for, from the X-Tenant-Id header ("default" without it). A job id is
/// derived from tenant and Idempotency-Key, and a job is only visible to its own tenant. The header
/// is meant to be set by a gateway that has authenticated the caller.
/// </summary>
public sealed partial record Tenant(string Id)
{
    public const string Header = "X-Tenant-Id";

    public static ValueTask<Tenant> BindAsync(HttpContext context)
    {
        var value = context.Request.Headers[Header].ToString();
        if (value.Length == 0)
            return ValueTask.FromResult(new Tenant(Tenants.Default));
        return ValidId().IsMatch(value)
            ? ValueTask.FromResult(new Tenant(value))
            : throw new BadHttpRequestException($"{Header} must be 1 to 64 letters, digits, '.', '_' or '-'.");
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ValidId();
}
