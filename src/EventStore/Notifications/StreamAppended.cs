using System.Globalization;
using System.Text;

namespace EventSourced.EventStore;

/// <summary>What a notification says: this stream has events up to this sequence number.</summary>
public readonly record struct StreamAppended(Guid StreamId, long Seq)
{
    // PostgreSQL refuses payloads of 8000 bytes or more.
    private const int MaxPayloadLength = 7900;

    /// <summary>Packs entries as "streamId:seq,streamId:seq", so a batch of many streams sends few notifications.</summary>
    public static IEnumerable<string> Pack(IEnumerable<StreamAppended> entries)
    {
        var payload = new StringBuilder();
        foreach (var entry in entries)
        {
            var text = string.Create(CultureInfo.InvariantCulture, $"{entry.StreamId:N}:{entry.Seq}");
            if (payload.Length > 0 && payload.Length + 1 + text.Length > MaxPayloadLength)
            {
                yield return payload.ToString();
                payload.Clear();
            }
            if (payload.Length > 0)
                payload.Append(',');
            payload.Append(text);
        }
        if (payload.Length > 0)
            yield return payload.ToString();
    }

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
