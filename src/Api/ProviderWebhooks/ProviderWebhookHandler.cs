using System.Text.Json;
using EventSourced.Api.Webhooks;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;
using Microsoft.Extensions.Options;
using Wolverine.Runtime.Handlers;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.ProviderWebhooks;

/// <summary>
/// Applies a stored provider webhook to the job it names: "*.succeeded" completes the job with the webhook's data as its
/// result, "*.failed" fails it for good (a declined payment is an answer, not a fault to retry). Only a processing job of a
/// type the provider reports on is changed; anything else is recorded as ignored on the webhook. The job's events carry the
/// webhook as their cause, so an auditor sees which message decided the job. Applied once: a redelivery finds the outcome set.
/// </summary>
public static class ProviderWebhookHandler
{
    public const string Queue = "provider-webhooks";

    public static void Configure(HandlerChain chain) => WebhooksModule.RetryWhileTheDatabaseIsAway(chain);

    public static async Task Handle(
        ProviderWebhookReceived received, IDocumentStore store, JobStreams streams, IOptions<WebhookOptions> options, CancellationToken ct)
    {
        await using var session = store.LightweightSession(received.TenantId);
        var webhook = await session.LoadAsync<ProviderWebhook>(received.Id, ct);
        if (webhook is null || webhook.Outcome is not null)
            return;
        var job = webhook.Data.ValueKind == JsonValueKind.Object ? await FindJob(session, webhook.Data, ct) : null;
        var outcome = job is null ? "ignored: it names no job of this tenant" : await Apply(webhook, job, options.Value, streams, received.TenantId, ct);
        session.Store(webhook with { JobId = job?.Id, Outcome = outcome });
        await session.SaveChangesAsync(ct);
    }

    private static async Task<string> Apply(ProviderWebhook webhook, JobStatusView job, WebhookOptions options, JobStreams streams, string tenant, CancellationToken ct)
    {
        if (options.Providers.GetValueOrDefault(webhook.Provider) is not { } provider || !provider.Reports(job.State.Type))
            return $"ignored: {webhook.Provider} does not report on {job.State.Type} jobs";
        var attempt = job.State.Attempt;
        JobCommand? command = webhook.Type switch
        {
            _ when webhook.Type.EndsWith(".succeeded", StringComparison.Ordinal) => new CompleteJob(attempt, webhook.Data, "application/json"),
            // Cut to the lengths of our own error codes and messages: the provider's text is not ours to store at any size.
            _ when webhook.Type.EndsWith(".failed", StringComparison.Ordinal) => new FailAttempt(attempt,
                Cut(Text(webhook.Data, "code"), 100) ?? "provider_reported_failure",
                Cut(Text(webhook.Data, "message"), 2000) ?? $"{webhook.Provider} reported {webhook.Type}.",
                Jitter: 0, Retryable: false),
            _ => null,
        };
        if (command is null)
            return $"ignored: {webhook.Type} is neither a success (*.succeeded) nor a failure (*.failed)";
        try
        {
            var changed = await streams.Execute(job.Id, tenant, command, new EventMetadata(CausationId: $"webhook:{webhook.Id}", Actor: webhook.Provider), ct);
            return JobDecider.Name(changed.Job.State.Status);
        }
        catch (JobRuleViolation v)
        {
            return $"ignored: {v.Message}";
        }
    }

    /// <summary>The job named by "jobId", or else the processing job submitted with "correlationId" (within the provider's tenant).</summary>
    private static async Task<JobStatusView?> FindJob(IDocumentSession session, JsonElement data, CancellationToken ct)
    {
        if (data.TryGetProperty("jobId", out var id) && id.ValueKind == JsonValueKind.String && id.TryGetGuid(out var jobId))
            return await session.LoadAsync<JobStatusView>(jobId, ct);
        if (Text(data, "correlationId") is not { } correlationId)
            return null;
        return await session.Query<JobStatusView>()
            .Where(v => v.CorrelationId == correlationId && v.State.Status == JobStatus.Processing)
            .FirstOrDefaultAsync(ct);
    }

    private static string? Cut(string? text, int length) => text is { Length: > 0 } t && t.Length > length ? t[..length] : text;

    private static string? Text(JsonElement data, string name) =>
        data.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
