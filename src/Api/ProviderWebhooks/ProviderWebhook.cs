using System.Text.Json;

namespace EventSourced.Api.ProviderWebhooks;

/// <summary>
/// A webhook a provider sent us, kept as received: its id is the provider's name and its webhook-id, so a provider that
/// sends the same message again (it always may) finds it stored and changes nothing. <see cref="Outcome"/> says what it did.
/// </summary>
public sealed record ProviderWebhook
{
    public required string Id { get; init; }
    public required string Provider { get; init; }
    public required string WebhookId { get; init; }

    /// <summary>Its webhook-timestamp: when the provider says it sent it.</summary>
    public required DateTimeOffset SentAt { get; init; }
    public required DateTimeOffset ReceivedAt { get; init; }
    public required string Type { get; init; }
    public required JsonElement Data { get; init; }

    /// <summary>The job it reported on, once found.</summary>
    public Guid? JobId { get; init; }

    /// <summary>What became of it ("completed", "failed", or why it was ignored); null until it is handled.</summary>
    public string? Outcome { get; init; }

    public static string IdOf(string provider, string webhookId) => $"{provider}/{webhookId}";
}

/// <summary>A stored provider webhook is due to be applied to its job. Sent through the outbox, in the transaction that stores it.</summary>
public sealed record ProviderWebhookReceived(string Id, string TenantId);
