namespace EventSourced.Client;

/// <summary>Where the service is, how to sign in, and how patiently to retry.</summary>
public sealed class JobsClientOptions
{
    /// <summary>The service's address (http://127.0.0.1:5000, or with a path: https://example.com/api). Unset: the HttpClient's own BaseAddress.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The API key, sent as "Authorization: Bearer". Unset: none is sent (a gateway in front may add its own).</summary>
    public string? ApiKey { get; set; }

    /// <summary>How single requests (submit, status, cancel, result, history) are retried.</summary>
    public RetryPolicy Retry { get; set; } = new();

    /// <summary>
    /// How long a watch or a wait keeps reconnecting while it gets nothing (the service restarting, the network gone)
    /// before it gives up with the last error. Every event received, or answer read, starts the time again.
    /// </summary>
    public TimeSpan ReconnectFor { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one long poll asks the service to hold it (Prefer: wait=N; the service cuts it to 60 s).</summary>
    public TimeSpan LongPollWait { get; set; } = TimeSpan.FromSeconds(30);
}
