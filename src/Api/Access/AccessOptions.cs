namespace EventSourced.Api.Access;

/// <summary>Who may call, from where, how often. Section "Access".</summary>
public sealed class AccessOptions
{
    /// <summary>
    /// Trust X-Tenant-Id (and X-Roles, X-Job-Types) as sent, instead of API keys: only behind a gateway that
    /// authenticates every caller and sets these headers itself, removing any a caller sent. Off by default.
    /// </summary>
    public bool TrustGatewayHeaders { get; set; }

    /// <summary>How long a node keeps what it learnt of a key (or of an id that is none): how soon a revocation, or a new key, is seen.</summary>
    public int KeyCacheSeconds { get; set; } = 10;

    /// <summary>Signs browsers' stream tokens; when unset, a secret kept in the database (the same for every node).</summary>
    public string? StreamTokenSecret { get; set; }

    /// <summary>How long a stream token opens its job's events.</summary>
    public TimeSpan StreamTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Origins whose pages may call the service from a browser (CORS), such as https://app.example.com.</summary>
    public string[] CorsOrigins { get; set; } = [];

    /// <summary>Requests a key (or, unauthenticated, an address) may make per second, on average, per node.</summary>
    public int RequestsPerSecond { get; set; } = 100;

    /// <summary>Requests a key may make at once above that rate before it is slowed to it.</summary>
    public int Burst { get; set; } = 200;

    /// <summary>Event streams and long polls a tenant may hold open at once, per node.</summary>
    public int MaxStreamsPerTenant { get; set; } = 100;
}
