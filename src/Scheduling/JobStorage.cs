using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections;
using Marten;

namespace EventSourced.Scheduling;

/// <summary>Everything the job service keeps in PostgreSQL, configured once, so every process and test stores jobs alike.</summary>
public static class JobStorage
{
    public static void Configure(StoreOptions options)
    {
        EventStoreSetup.Configure(options, JobEvent.TypeNames);
        Upcast<EarlierJobEvents.AttemptFailed, JobEvent.JobAttemptFailed>(options, stored => stored.Upcast());
        Upcast<EarlierJobEvents.Failed, JobEvent.JobFailed>(options, stored => stored.Upcast());
        JobReadModels.Configure(options);
        JobLeases.Configure(options);
    }

    /// <summary>Reads every stored event of <typeparamref name="TEvent"/>'s name as a <typeparamref name="TStored"/>, upcast (Marten's upcasters are keyed by the stored name).</summary>
    private static void Upcast<TStored, TEvent>(StoreOptions options, Func<TStored, TEvent> upcast) where TStored : class where TEvent : JobEvent =>
        options.Events.Upcast(JobEvent.TypeNames.Single(name => name.Value == typeof(TEvent)).Key, upcast);
}
