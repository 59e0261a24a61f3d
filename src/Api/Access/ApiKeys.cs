using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Access;

/// <summary>
/// An API key as stored: who it is for and what it may do, and the SHA-256 of the key, never the key itself.
/// A plain hash is enough: the key holds 256 random bits, so there is nothing to guess from the hash (a slow
/// password hash is for secrets people choose, and would cost every request).
/// </summary>
public sealed record ApiKey(
    string Id, string Tenant, IReadOnlyList<string> Roles, IReadOnlyList<string> JobTypes, string? Name, string Hash,
    DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt = null);

/// <summary>A key as shown to the operator that made it: its one sight of the key itself.</summary>
public sealed record CreatedKey(ApiKey Stored, string Key);

/// <summary>
/// Creates, revokes, lists and checks API keys. A key reads "esk_{id}_{secret}": the id finds the stored key
/// with one primary-key read, the secret is compared with its hash in constant time. What a node learns of an id, the key
/// or that there is none, it keeps for Access:KeyCacheSeconds (10 s): a busy key costs no database read per request, nor
/// does a flood of made-up ids; a revoked key is refused, and a new one accepted, within that time on every node.
/// </summary>
public sealed class ApiKeys(IDocumentStore store, IOptions<AccessOptions> options, TimeProvider clock)
{
    public const string Prefix = "esk_";
    private const int IdLength = 12;
    // Ids kept at most: past it the memory of ids is dropped and learnt again, so made-up ids cannot fill it.
    private const int MaxKnownIds = 100_000;

    private readonly ConcurrentDictionary<string, (ApiKey? Key, DateTimeOffset Until)> _known = new(StringComparer.Ordinal);

    public TimeSpan CacheFor => TimeSpan.FromSeconds(options.Value.KeyCacheSeconds);

    public async Task<CreatedKey> Create(string tenant, IReadOnlyList<string> roles, IReadOnlyList<string> jobTypes, string? name, CancellationToken ct)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2));
        var key = $"{Prefix}{id}_{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";
        var stored = new ApiKey(id, tenant, roles, jobTypes, name, Hash(key), clock.GetUtcNow());
        await using var session = store.LightweightSession();
        session.Insert(stored);
        await session.SaveChangesAsync(ct);
        return new CreatedKey(stored, key);
    }

    /// <summary>Revokes the key; false when there is no such key. Revoking twice keeps the first time.</summary>
    public async Task<bool> Revoke(string id, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        if (await session.LoadAsync<ApiKey>(id, ct) is not { } key)
            return false;
        if (key.RevokedAt is null)
        {
            session.Update(key with { RevokedAt = clock.GetUtcNow() });
            await session.SaveChangesAsync(ct);
        }
        return true;
    }

    public async Task<IReadOnlyList<ApiKey>> List(CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return await session.Query<ApiKey>().OrderBy(k => k.Tenant).ThenBy(k => k.CreatedAt).ToListAsync(ct);
    }

    /// <summary>The live key this is, or null: malformed, unknown, wrong secret or revoked are all the same to the caller.</summary>
    public async Task<ApiKey?> Check(string presented, CancellationToken ct)
    {
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length < Prefix.Length + IdLength + 2
            || presented[Prefix.Length + IdLength] != '_')
            return null;
        var id = presented.Substring(Prefix.Length, IdLength);
        var now = clock.GetUtcNow();
        if (!_known.TryGetValue(id, out var known) || known.Until < now)
        {
            await using var session = store.QuerySession();
            known = (await session.LoadAsync<ApiKey>(id, ct), now + CacheFor);
            if (_known.Count >= MaxKnownIds)
                _known.Clear();
            _known[id] = known;
        }
        return known.Key is { RevokedAt: null } key
            && CryptographicOperations.FixedTimeEquals(Convert.FromHexString(key.Hash), SHA256.HashData(Encoding.UTF8.GetBytes(presented)))
            ? key
            : null;
    }

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
