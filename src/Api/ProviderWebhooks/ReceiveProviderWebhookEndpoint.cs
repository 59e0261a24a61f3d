using System.Globalization;
using System.Text.Json;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Webhooks;
using JasperFx;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventSourced.Api.ProviderWebhooks;

/// <summary>The provider's answer: the webhook is stored, and whether it already was.</summary>
public sealed record ProviderWebhookAccepted(string WebhookId, bool Duplicate);

/// <summary>
/// POST /webhooks/{provider}: a provider (a payment provider) reports the outcome of a job. Signed per Standard Webhooks with
/// the provider's secret and no further than <see cref="WebhookOptions.Tolerance"/> from our clock (401 otherwise, nothing
/// stored). Every webhook that is signed is stored, with a message that applies it to its job, in one transaction, and the
/// provider gets its 2xx at once, whatever it says and whatever the job's state: a provider retries anything else for days and
/// may turn the endpoint off, and one we cannot use is kept for an operator to see (its outcome says why it was ignored).
/// A webhook-id seen before is answered 200 and ignored.
/// </summary>
public static class ReceiveProviderWebhookEndpoint
{
    [AllowAnonymous]
    [WolverinePost("/webhooks/{provider}", OperationId = "ReceiveProviderWebhook")]
    [EndpointSummary("A provider reports a job's outcome, signed (Standard Webhooks)")]
    [RequestBody(typeof(JsonElement))]
    [RequestHeaders("webhook-id", "webhook-timestamp", "webhook-signature", Required = ["webhook-id", "webhook-timestamp", "webhook-signature"])]
    [Responds(StatusCodes.Status202Accepted, typeof(ProviderWebhookAccepted), Description = "Stored; the job it names is told.")]
    [Responds(StatusCodes.Status200OK, typeof(ProviderWebhookAccepted), Description = "Received before (the same webhook-id): nothing more is done.")]
    [Problems(StatusCodes.Status401Unauthorized, "webhook_unsigned", "webhook_timestamp_out_of_tolerance", "webhook_signature_invalid")]
    [Problems(StatusCodes.Status404NotFound, "unknown_provider")]
    public static async Task<IResult> Receive(
        string provider, HttpContext http, IDocumentStore store, IWolverineRuntime runtime, IOptions<WebhookOptions> options, TimeProvider clock,
        CancellationToken ct)
    {
        if (!options.Value.Providers.TryGetValue(provider, out var settings))
            return Problems.Problem(StatusCodes.Status404NotFound, "unknown_provider", "No such provider.", $"No provider '{provider}' is configured (Webhooks:Providers).");
        var (bytes, problem) = await JsonBody.ReadBytes(http.Request, ct);
        if (problem is not null)
            return problem;

        var headers = http.Request.Headers;
        var webhookId = headers[StandardWebhooks.IdHeader].ToString();
        var now = clock.GetUtcNow();
        if (webhookId.Length is 0 or > RequestLimits.MaxNameChars || headers[StandardWebhooks.SignatureHeader].Count == 0)
        {
            return Unauthorized("webhook_unsigned",
                $"The webhook must carry webhook-id (at most {RequestLimits.MaxNameChars} characters), webhook-timestamp and webhook-signature.");
        }
        if (!long.TryParse(headers[StandardWebhooks.TimestampHeader], NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp)
            || Math.Abs(now.ToUnixTimeSeconds() - timestamp) > options.Value.Tolerance.TotalSeconds)
        {
            return Unauthorized("webhook_timestamp_out_of_tolerance",
                $"webhook-timestamp must be the Unix time it was sent, within {options.Value.Tolerance.TotalMinutes} minutes of ours ({now.ToUnixTimeSeconds()}).");
        }
        if (!StandardWebhooks.Verify(WebhookOptions.SecretsIn(settings.Secrets), webhookId, timestamp, bytes.Span, headers[StandardWebhooks.SignatureHeader].ToString()))
            return Unauthorized("webhook_signature_invalid", $"webhook-signature is not a signature of this message by any of {provider}'s secrets.");

        var (type, data) = Contents(bytes);
        var webhook = new ProviderWebhook
        {
            Id = ProviderWebhook.IdOf(provider, webhookId), Provider = provider, WebhookId = webhookId,
            SentAt = DateTimeOffset.FromUnixTimeSeconds(timestamp), ReceivedAt = now, Type = type, Data = data,
        };
        await using var session = store.LightweightSession(settings.Tenant);
        session.Insert(webhook);
        await new MartenOutbox(runtime, session).PublishAsync(new ProviderWebhookReceived(webhook.Id, settings.Tenant), new DeliveryOptions { TenantId = settings.Tenant });
        try
        {
            await session.SaveChangesAsync(ct);
        }
        catch (DocumentAlreadyExistsException)
        {
            return TypedResults.Ok(new ProviderWebhookAccepted(webhookId, Duplicate: true));
        }
        return TypedResults.Accepted((string?)null, new ProviderWebhookAccepted(webhookId, Duplicate: false));
    }

    /// <summary>
    /// Its "type" and "data", as Standard Webhooks payloads have them; "" and the whole body when it has no such shape, so that what
    /// a provider sent is kept as sent (in base64, as a JSON string, when it is not JSON that the service takes).
    /// </summary>
    private static (string Type, JsonElement Data) Contents(ReadOnlyMemory<byte> bytes)
    {
        var (payload, invalid) = JsonBody.Parse(bytes);
        if (invalid is not null)
            return ("", JsonSerializer.SerializeToElement(Convert.ToBase64String(bytes.Span)));
        if (payload.ValueKind != JsonValueKind.Object)
            return ("", payload);
        var type = payload.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        return (type.Length > RequestLimits.MaxNameChars ? type[..RequestLimits.MaxNameChars] : type,
            payload.TryGetProperty("data", out var data) ? data : payload);
    }

    private static IResult Unauthorized(string code, string detail) =>
        Problems.Problem(StatusCodes.Status401Unauthorized, code, "The webhook's signature does not check out.", detail);
}
