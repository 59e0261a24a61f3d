using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;

namespace EventSourced.Projections;

/// <summary>The job read models: their schema, the projections that keep them inline, and the event names they read.</summary>
public static class JobReadModels
{
    public static readonly SchemaModule Schema = new("jobs", typeof(JobReadModels).Assembly);

    public static IReadOnlyList<IProjection> Projections() => [new JobStatusProjection(), new JobResultProjection()];

    /// <summary>The job events under their stable names.</summary>
    public static EventTypes EventTypes()
    {
        var types = new EventTypes();
        foreach (var (name, type) in JobEvent.TypeNames)
            types.Register(name, type);
        return types;
    }
}
