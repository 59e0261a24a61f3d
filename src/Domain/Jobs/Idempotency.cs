using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EventSourced.Domain.Jobs;

/// <summary>
/// A job's id is derived from its tenant and Idempotency-Key, so the event store's unique stream
/// id is what makes a retried submission land on the same job, also when duplicates race.
/// </summary>
public static class Idempotency
{
    public const int MaxKeyLength = 255;

    // The UUID v5 namespace of job ids. Never change it: ids already handed out are derived from it.
    private static readonly Guid JobNamespace = new("6f1b7c9e-2d4a-4e8b-9c3f-1a2b3c4d5e6f");

    /// <summary>
    /// UUID version 5 (SHA-1, RFC 9562) of the tenant and key. A key is honoured until its job expires; after that
    /// the same key starts a new job, of the next <paramref name="generation"/> (the first is 0).
    /// </summary>
    public static Guid JobId(string tenant, string idempotencyKey, int generation = 0)
    {
        Span<byte> hash = stackalloc byte[20];
        var name = Encoding.UTF8.GetBytes(generation == 0 ? $"{tenant}\n{idempotencyKey}" : $"{tenant}\n{idempotencyKey}\n{generation}");
        var input = new byte[16 + name.Length];
        JobNamespace.TryWriteBytes(input, bigEndian: true, out _);
        name.CopyTo(input, 16);
        SHA1.HashData(input, hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(hash[..16], bigEndian: true);
    }

    /// <summary>
    /// SHA-256 of the request's canonical JSON: object keys sorted, no white space, strings
    /// re-encoded. A retry that orders keys or spaces them differently has the same fingerprint.
    /// </summary>
    public static string Fingerprint(JsonElement request)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            WriteCanonical(writer, request);
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                    WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
