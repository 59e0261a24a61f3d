using System.Globalization;

namespace EventSourced.EventStore.Notifications;

/// <summary>What a notification says: this stream has events up to this version.</summary>
public readonly record struct StreamAppended(Guid StreamId, long Version)
{
    public static string Format(Guid streamId, long version) => string.Create(CultureInfo.InvariantCulture, $"{streamId:N}:{version}");

    /// <summary>Reads a payload of "streamId:version,streamId:version" entries (written by <see cref="AppendNotifier"/>).</summary>
    public static IEnumerable<StreamAppended> Parse(string payload)
    {
        foreach (var entry in payload.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0
                && Guid.TryParseExact(entry.AsSpan(0, colon), "N", out var streamId)
                && long.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                yield return new StreamAppended(streamId, version);
            }
        }
    }
}
