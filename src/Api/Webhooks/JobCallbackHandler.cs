using System.Text.Json;
using System.Text.Json.Serialization;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs;
using EventSourced.Api.Jobs.Status;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;
using Microsoft.Extensions.Options;
using Wolverine.ErrorHandling;
using Wolverine.Runtime.Handlers;

namespace EventSourced.Api.Webhooks;

/// <summary>The body of a callback: the kind of event, when it happened, and the job as it stood right after it.</summary>
public sealed record CallbackPayload(string Type, DateTimeOffset Timestamp, JobStatusResponse Data);

/// <summary>
/// Sends one attempt of a callback and records it in the job's history (webhook.attempted, .delivered or .abandoned),
/// in one transaction with the next attempt, which Wolverine's outbox keeps until it is due. The body is the job as it
/// stood at the event, folded from the events up to it, so every attempt of a message sends the same body, under the
/// same webhook-id. Delivery is at least once: a node that dies after sending and before recording sends it again.
/// </summary>
public static class JobCallbackHandler
{
    public const string Queue = "callbacks";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        Encoder = ResponseJson.Encoder,
    };

    public static void Configure(HandlerChain chain)
    {
        WebhooksModule.RetryWhileTheDatabaseIsAway(chain);
        // Only a message sent before its event committed gets here (every append commits before its outbox sends):
        // the event may yet commit; if it never does, the message ends as a dead letter, for an operator to see.
        chain.OnException<CallbackEventNotCommitted>().RetryWithCooldown(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
    }

    public static async Task Handle(
        JobCallbackDue due, IDocumentStore store, JobStreams streams, CallbackSender sender, IOptions<WebhookOptions> options,
        TimeProvider clock, PublicUrls urls, CancellationToken ct)
    {
        // No request to take a host from: the URLs in a callback are absolute only with Api:PublicBaseUrl set.
        var (view, payload) = await Payload(due, store, new JobLinks(urls.Base(null)), ct);
        if (view?.CallbackUrl is not { } url)
            return;

        var messageId = $"msg_{due.JobId:N}_{due.Version}";
        var secrets = WebhookOptions.SecretsIn(options.Value.Secrets.GetValueOrDefault(due.TenantId));
        var (statusCode, error) = secrets.Length == 0
            ? (null, $"tenant {due.TenantId} has no signing secret (Webhooks:Secrets:{due.TenantId})")
            : await sender.Post(new Uri(url), messageId, secrets, payload, clock.GetUtcNow(), ct);

        var now = clock.GetUtcNow();
        var retryAt = Callbacks.RetryDelay(due.Attempt, options.Value.Retries, Random.Shared.NextDouble()) is { } delay ? now + delay : (DateTimeOffset?)null;
        var outcome = Callbacks.Outcome(due.JobId, messageId, due.Version, due.Attempt, statusCode, error, retryAt, now);
        var next = outcome is JobEvent.WebhookAttempted attempted ? new ScheduledMessage(due with { Attempt = due.Attempt + 1 }, attempted.RetryAt, due.TenantId) : null;
        await streams.RecordCallback(view, outcome, new EventMetadata(CausationId: messageId, Actor: "webhooks"), next, ct);
    }

    /// <summary>The job as it stood at the callback's event, and the JSON body that says so.</summary>
    private static async Task<(JobStatusView? View, byte[] Payload)> Payload(JobCallbackDue due, IDocumentStore store, JobLinks links, CancellationToken ct)
    {
        await using var session = store.QuerySession(due.TenantId);
        var events = await session.Events.FetchStreamAsync(due.JobId, due.Version, token: ct);
        if (events.Count == 0)
            return (null, []);
        // Never the job as it stood before: a message describes the event at its version, or waits for it to commit.
        if (events[^1].Version != due.Version)
            throw new CallbackEventNotCommitted(due);
        var projection = new JobStatusProjection();
        var view = events.Aggregate((JobStatusView?)null, (v, e) => projection.Evolve(v, due.JobId, e))!;
        var e = events[^1];
        return (view, JsonSerializer.SerializeToUtf8Bytes(new CallbackPayload(e.EventTypeName, ((JobEvent)e.Data).At, JobStatusResponse.From(view, links)), Json));
    }
}

/// <summary>A callback is due for a version of its job that is not in the store (yet).</summary>
public sealed class CallbackEventNotCommitted(JobCallbackDue due)
    : Exception($"Job {due.JobId} has no version {due.Version} (yet) to call back about.");
