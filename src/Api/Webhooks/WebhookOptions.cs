namespace EventSourced.Api.Webhooks;

/// <summary>The "Webhooks" configuration section: callbacks to clients, and providers that call us.</summary>
public sealed class WebhookOptions
{
    /// <summary>
    /// Hosts a callback URL may name over plain http and at a private, loopback or link-local address (a test's
    /// receiver on 127.0.0.1, say). Every other callback goes over https to a public address only.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>
    /// Each tenant's signing secrets ("whsec_" + base64), space-separated: during a rotation both the new and the old
    /// one sign every callback, and the receiver accepts either. A tenant without one cannot ask for callbacks.
    /// </summary>
    public Dictionary<string, string> Secrets { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long a receiver may take to answer one attempt; a slower one is cut off and tried again.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The longest wait before each retry; each wait is drawn at random from zero to it (full jitter). Unset: the
    /// Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with two daily retries after it, nine
    /// attempts over up to three days. (Null rather than the default list: the configuration binder would append to it.)
    /// </summary>
    public List<TimeSpan>? RetrySchedule { get; set; }

    public IReadOnlyList<TimeSpan> Retries => RetrySchedule is { Count: > 0 } configured ? configured : DefaultRetries;

    private static readonly TimeSpan[] DefaultRetries =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5),
        TimeSpan.FromHours(10), TimeSpan.FromHours(10), TimeSpan.FromHours(24), TimeSpan.FromHours(24),
    ];

    /// <summary>Providers that may call POST /webhooks/{provider}, by name.</summary>
    public Dictionary<string, WebhookProvider> Providers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How far a provider's webhook-timestamp may be from our clock (replays of old messages are refused).</summary>
    public TimeSpan Tolerance { get; set; } = TimeSpan.FromMinutes(5);

    public bool IsAllowedHost(string host) => AllowedHosts.Contains(host, StringComparer.OrdinalIgnoreCase);

    /// <summary>The signing secrets of a tenant (or a provider): none when it has none.</summary>
    public static string[] SecretsIn(string? configured) => (configured ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>A provider that reports outcomes of jobs through POST /webhooks/{name}.</summary>
public sealed class WebhookProvider
{
    /// <summary>Its signing secrets ("whsec_" + base64), space-separated: during a rotation, a webhook signed by either is accepted.</summary>
    public string Secrets { get; set; } = "";

    /// <summary>The tenant whose jobs it reports on: a provider account belongs to one tenant, and reaches no other's jobs.</summary>
    public string Tenant { get; set; } = EventStore.Tenants.Default;

    /// <summary>The job types whose outcome it may report (unset: "payment"). Null rather than a default list: the binder would append to it.</summary>
    public List<string>? JobTypes { get; set; }

    public bool Reports(string jobType) => (JobTypes is { Count: > 0 } types ? types : ["payment"]).Contains(jobType, StringComparer.Ordinal);
}
