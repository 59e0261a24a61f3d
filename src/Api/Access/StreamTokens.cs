using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Marten;
using JasperFx;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Access;

/// <summary>The secret stream tokens are signed with, made once per database so that every node accepts every node's tokens.</summary>
public sealed record StreamTokenSecret(string Id, string Secret);

/// <summary>
/// Short-lived tokens for browsers: EventSource cannot send an Authorization header, so the URL of a job's event
/// stream carries "{expiry}.{tenant}.{HMAC-SHA256 of job, tenant and expiry}". Bound to one job of one tenant and
/// accepted nowhere else. The secret is Access:StreamTokenSecret when set, otherwise one the database keeps.
/// </summary>
public sealed class StreamTokens(IDocumentStore store, IOptions<AccessOptions> options, TimeProvider clock)
{
    private const string SecretId = "stream-tokens";
    private byte[]? _secret;

    /// <summary>The URL of the job's event stream for a browser, with a fresh token.</summary>
    public async Task<string> EventsUrl(Jobs.JobLinks links, Guid jobId, string tenant, CancellationToken ct)
    {
        var expires = clock.GetUtcNow().Add(options.Value.StreamTokenLifetime).ToUnixTimeSeconds();
        var token = $"{expires}.{tenant}.{Mac(await Secret(ct), jobId, tenant, expires)}";
        return $"{links.Events(jobId)}?access_token={Uri.EscapeDataString(token)}";
    }

    /// <summary>The tenant and job a token opens the stream of, or null when it is malformed, forged or expired.</summary>
    public async Task<(string Tenant, Guid JobId)?> Check(string token, Guid jobId, CancellationToken ct)
    {
        var first = token.IndexOf('.', StringComparison.Ordinal);
        var last = token.LastIndexOf('.');
        if (first <= 0 || last <= first + 1
            || !long.TryParse(token.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture, out var expires)
            || expires < clock.GetUtcNow().ToUnixTimeSeconds())
            return null;
        var tenant = token[(first + 1)..last];
        var expected = Encoding.ASCII.GetBytes(Mac(await Secret(ct), jobId, tenant, expires));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(token[(last + 1)..])) ? (tenant, jobId) : null;
    }

    private static string Mac(byte[] secret, Guid jobId, string tenant, long expires) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{jobId:N}|{tenant}|{expires}")));

    private async Task<byte[]> Secret(CancellationToken ct)
    {
        if (_secret is not null)
            return _secret;
        if (options.Value.StreamTokenSecret is { Length: > 0 } configured)
            return _secret = Encoding.UTF8.GetBytes(configured);
        await using var session = store.LightweightSession();
        var stored = await session.LoadAsync<StreamTokenSecret>(SecretId, ct);
        if (stored is null)
        {
            // Nodes starting together may both make one: the first insert wins and the others read it.
            session.Insert(new StreamTokenSecret(SecretId, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
            try
            {
                await session.SaveChangesAsync(ct);
            }
            catch (DocumentAlreadyExistsException)
            {
            }
            await using var again = store.QuerySession();
            stored = await again.LoadAsync<StreamTokenSecret>(SecretId, ct);
        }
        return _secret = Convert.FromBase64String(stored!.Secret);
    }
}
