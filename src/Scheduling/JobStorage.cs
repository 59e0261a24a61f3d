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
        JobReadModels.Configure(options);
        JobLeases.Configure(options);
    }
}
