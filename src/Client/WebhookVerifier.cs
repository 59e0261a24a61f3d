using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EventSourced.Client;

/// <summary>
/// Checks a webhook as the Standard Webhooks specification defines it (the service signs its callbacks so): an
/// HMAC-SHA256, keyed with the base64 after "whsec_", of "{webhook-id}.{webhook-timestamp}.{body}", sent in
/// webhook-signature as "v1,{base64}", several space-separated. Several secrets for a rotation: a webhook signed with any
/// of them passes. A timestamp further than the tolerance from this clock fails (a replayed old message). Signatures are
/// compared in constant time. Check the body exactly as received, before parsing it: JSON written again differs.
/// </summary>
public sealed class WebhookVerifier
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>The specification's recommendation, and the service's own for the webhooks it receives.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    private const string SecretPrefix = "whsec_";
    private readonly byte[][] _keys;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _clock;

    /// <param name="secrets">
    /// "whsec_..." secrets (the prefix may be left out); an entry may hold several separated by spaces, as the service's
    /// setting does during a rotation ("whsec_new whsec_old").
    /// </param>
    public WebhookVerifier(IEnumerable<string> secrets, TimeSpan? tolerance = null, TimeProvider? clock = null)
    {
        _keys = [.. secrets.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(Key)];
        if (_keys.Length == 0)
            throw new ArgumentException("Give at least one secret.", nameof(secrets));
        _tolerance = tolerance ?? DefaultTolerance;
        _clock = clock ?? TimeProvider.System;
    }

    public WebhookVerifier(params string[] secrets)
        : this((IEnumerable<string>)secrets)
    {
    }

    /// <summary>Throws <see cref="WebhookVerificationException"/>, saying why, unless the webhook is signed with one of the secrets and recent.</summary>
    public void Verify(string? webhookId, string? webhookTimestamp, string? webhookSignature, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrEmpty(webhookId) || string.IsNullOrEmpty(webhookTimestamp) || string.IsNullOrEmpty(webhookSignature))
            throw new WebhookVerificationException($"The {IdHeader}, {TimestampHeader} and {SignatureHeader} headers are required.");
        if (!long.TryParse(webhookTimestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
            throw new WebhookVerificationException($"{TimestampHeader} '{webhookTimestamp}' is not a number of seconds.");
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - timestamp) > _tolerance.TotalSeconds)
            throw new WebhookVerificationException($"{TimestampHeader} is {now - timestamp} s from this clock, more than the {_tolerance.TotalSeconds} s allowed.");

        var offered = new List<byte[]>();
        foreach (var signature in webhookSignature.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var hash = new byte[32];
            if (signature.StartsWith("v1,", StringComparison.Ordinal) && Convert.TryFromBase64String(signature[3..], hash, out var length) && length == hash.Length)
                offered.Add(hash);
        }
        var signed = Signed(webhookId, timestamp, body);
        var valid = false;
        // Every pair is compared, matched or not, so the time taken says nothing about which secret or signature matched.
        foreach (var key in _keys)
        {
            var expected = HMACSHA256.HashData(key, signed);
            foreach (var candidate in offered)
                valid |= CryptographicOperations.FixedTimeEquals(candidate, expected);
        }
        if (!valid)
            throw new WebhookVerificationException("No v1 signature matches a secret of this verifier.");
    }

    public void Verify(string? webhookId, string? webhookTimestamp, string? webhookSignature, string body) =>
        Verify(webhookId, webhookTimestamp, webhookSignature, Encoding.UTF8.GetBytes(body));

    /// <summary>Verifies a callback of the jobs service and reads it: the event's type (job.completed, ...), when, and the job as it stood.</summary>
    public JobCallback VerifyJobCallback(string? webhookId, string? webhookTimestamp, string? webhookSignature, string body)
    {
        Verify(webhookId, webhookTimestamp, webhookSignature, body);
        var callback = JsonSerializer.Deserialize<JobCallback>(body, ClientJson.Options)
            ?? throw new WebhookVerificationException("The body is not a callback of the jobs service.");
        return callback with { WebhookId = webhookId! };
    }

    /// <summary>The webhook-signature value one secret gives: for tests and for senders.</summary>
    public static string Sign(string secret, string webhookId, long timestamp, ReadOnlySpan<byte> body) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(Key(secret), Signed(webhookId, timestamp, body)));

    private static byte[] Signed(string webhookId, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp.ToString(CultureInfo.InvariantCulture)}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return signed;
    }

    private static byte[] Key(string secret)
    {
        var base64 = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret;
        try
        {
            return Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new ArgumentException($"A webhook secret is '{SecretPrefix}' and base64; one given is not.", nameof(secret));
        }
    }
}

/// <summary>A webhook failed verification; the message says why (never which secret).</summary>
public sealed class WebhookVerificationException(string message) : Exception(message);

/// <summary>
/// A callback of the jobs service: the event it is about (job.completed, job.progressed, ...), when it happened, and the job
/// as GET /jobs/{id} showed it right after. Delivery is at least once: de-duplicate by <see cref="WebhookId"/>.
/// </summary>
public sealed record JobCallback(string Type, DateTimeOffset Timestamp, JobState Data)
{
    public string WebhookId { get; init; } = "";
}
