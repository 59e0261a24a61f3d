using EventSourced.EventStore;
using EventSourced.Projections.Jobs;

namespace EventSourced.Projections;

/// <summary>The job read models: their schema, and the projections that keep them inline.</summary>
public static class JobReadModels
{
    public static readonly SchemaModule Schema = new("jobs", typeof(JobReadModels).Assembly);

    public static IReadOnlyList<IProjection> Projections() => [new JobStatusProjection(), new JobResultProjection()];
}
