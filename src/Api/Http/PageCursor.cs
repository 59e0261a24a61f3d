using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace EventSourced.Api.Http;

/// <summary>
/// The last row of a page sorted by (time, id), as an opaque token for the next page's URL. The time is cut to the
/// microsecond, as the database stores it in the column the page is sorted by (Npgsql drops the rest), so the row the
/// cursor names is never shown again.
/// </summary>
public static class PageCursor
{
    public static string Write(DateTimeOffset at, Guid id) =>
        Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{at.UtcTicks / 10 * 10}.{id:N}"));

    /// <summary>The position, or null for anything a previous page could not have given (a tampered cursor is a 400, not a 500).</summary>
    public static (DateTimeOffset, Guid)? Read(string cursor)
    {
        try
        {
            var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(cursor)).Split('.');
            return parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks && Guid.TryParseExact(parts[1], "N", out var id)
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
