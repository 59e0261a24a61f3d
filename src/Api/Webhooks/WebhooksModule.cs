using EventSourced.Api.ProviderWebhooks;
using EventSourced.Projections.Jobs;
using Marten;
using EventSourced.EventStore;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Runtime.Handlers;

namespace EventSourced.Api.Webhooks;

public static class WebhooksModule
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<WebhookOptions>(configuration.GetSection("Webhooks"));
        services.AddSingleton<CallbackSender>();
        services.ConfigureMarten(options => options.Schema.For<ProviderWebhook>().DocumentAlias("provider_webhooks"));
        return services;
    }

    /// <summary>
    /// Both the callbacks and the provider webhooks were already promised (to the client, to the provider): a database
    /// that is away delays them, it is not a reason to give them up.
    /// </summary>
    public static void RetryWhileTheDatabaseIsAway(HandlerChain chain) =>
        chain.OnException(GroupCommit.IsTransient).ScheduleRetryIndefinitely(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2));

    /// <summary>
    /// Callbacks go through a durable local queue: the outbox stores each in the transaction of the event that calls
    /// for it, and a node that dies with callbacks in hand loses none: another takes them over once the dead node is
    /// found stale (30 s here rather than Wolverine's minute, in line with the job leases' 30 s). Provider webhooks are
    /// applied to their jobs the same way, stored in the transaction that stores the webhook.
    /// </summary>
    public static void ConfigureWebhooks(this WolverineOptions options)
    {
        options.PublishMessage<ProviderWebhookReceived>().ToLocalQueue(ProviderWebhookHandler.Queue).UseDurableInbox();
        options.PublishMessage<JobCallbackDue>().ToLocalQueue(JobCallbackHandler.Queue).UseDurableInbox();
        options.LocalQueue(JobCallbackHandler.Queue).MaximumParallelMessages(16);
        options.Durability.StaleNodeTimeout = TimeSpan.FromSeconds(30);
    }
}
