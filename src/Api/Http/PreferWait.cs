using System.Globalization;
using EventSourced.Api.Errors;

namespace EventSourced.Api.Http;

/// <summary>
/// The wait=N preference (RFC 7240) of a long poll: GET /jobs/{id} and a worker's claim read it the same way. N is a whole
/// number of seconds, cut to <see cref="RequestLimits.MaxPreferWaitSeconds"/>; anything else is refused rather than ignored,
/// so a client that meant to wait learns that it did not.
/// </summary>
public static class PreferWait
{
    /// <summary>The wait asked for (zero without one); false when a wait= is not a whole number of seconds.</summary>
    public static bool TryRead(HttpRequest request, out TimeSpan wait)
    {
        wait = TimeSpan.Zero;
        foreach (var preference in request.Headers["Prefer"].SelectMany(h => (h ?? "").Split(',')))
        {
            var token = preference.Split(';')[0].Split('=', 2);
            if (!token[0].Trim().Equals("wait", StringComparison.OrdinalIgnoreCase))
                continue;
            var value = token.Length == 2 ? token[1].Trim().Trim('"') : "";
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                return false;
            wait = TimeSpan.FromSeconds(Math.Min(seconds, RequestLimits.MaxPreferWaitSeconds));
        }
        return true;
    }

    public static IResult Invalid() => Problems.Problem(StatusCodes.Status400BadRequest, "invalid_prefer_wait",
        "The Prefer header is not valid.",
        $"Prefer: wait= must be a whole number of seconds, from 0 to {RequestLimits.MaxPreferWaitSeconds} (longer waits are cut to {RequestLimits.MaxPreferWaitSeconds}).");
}
