using System.Globalization;

namespace EventSourced.EventStore;

/// <summary>What a notification says: this stream has events up to this sequence number.</summary>
public readonly record struct StreamAppended(Guid StreamId, long Seq)
{
    /// <summary>Reads a payload of "streamId:seq,streamId:seq" entries (written by the append's SQL).</summary>
    public static IEnumerable<StreamAppended> Parse(string payload)
    {
        foreach (var entry in payload.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0
                && Guid.TryParseExact(entry.AsSpan(0, colon), "N", out var streamId)
                && long.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                yield return new StreamAppended(streamId, seq);
            }
        }
    }
}
