using System.Security.Cryptography;
using System.Text;

namespace EventSourced.Api.Webhooks;

/// <summary>
/// Signatures as the Standard Webhooks specification defines them: HMAC-SHA256, keyed with the base64 after "whsec_",
/// of "{webhook-id}.{webhook-timestamp}.{body}", sent as "v1,{base64}", several space-separated when several secrets sign.
/// One implementation for the callbacks we sign and the provider webhooks we verify.
/// </summary>
public static class StandardWebhooks
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";
    private const string SecretPrefix = "whsec_";

    public static bool IsValidSecret(string secret)
    {
        var key = new byte[secret.Length];
        return secret.StartsWith(SecretPrefix, StringComparison.Ordinal)
            && Convert.TryFromBase64String(secret[SecretPrefix.Length..], key, out var length) && length >= 16;
    }

    public static string Sign(IEnumerable<string> secrets, string messageId, long timestamp, ReadOnlySpan<byte> body)
    {
        var signatures = new List<string>();
        foreach (var secret in secrets)
            signatures.Add("v1," + Convert.ToBase64String(Hmac(secret, messageId, timestamp, body)));
        return string.Join(' ', signatures);
    }

    /// <summary>True when one of the "v1" signatures in <paramref name="signatureHeader"/> is that of one of the secrets.</summary>
    public static bool Verify(IEnumerable<string> secrets, string messageId, long timestamp, ReadOnlySpan<byte> body, string signatureHeader)
    {
        var offered = new List<byte[]>();
        foreach (var signature in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var hash = new byte[32];
            if (signature.StartsWith("v1,", StringComparison.Ordinal) && Convert.TryFromBase64String(signature[3..], hash, out var length) && length == hash.Length)
                offered.Add(hash);
        }
        foreach (var secret in secrets)
        {
            var expected = Hmac(secret, messageId, timestamp, body);
            if (offered.Any(o => CryptographicOperations.FixedTimeEquals(o, expected)))
                return true;
        }
        return false;
    }

    private static byte[] Hmac(string secret, string messageId, long timestamp, ReadOnlySpan<byte> body)
    {
        var key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        var prefix = Encoding.UTF8.GetBytes($"{messageId}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return HMACSHA256.HashData(key, signed);
    }
}
