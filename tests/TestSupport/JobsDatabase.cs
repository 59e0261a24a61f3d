using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;

namespace EventSourced.TestSupport;

/// <summary>A test database with a Marten store configured as the service's: job events, read models kept inline, leases.</summary>
public sealed class JobsDatabase : TestDatabase
{
    private JobStoreProcess _process = null!;

    public DocumentStore Store => _process.Store;
    public JobStreams Streams => _process.Streams;
    public JobQueries Queries => _process.Queries;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _process = JobStoreProcess.On(ConnectionString);
        await Store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    public override async Task DisposeAsync()
    {
        _process.Dispose();
        await base.DisposeAsync();
    }

    public Task<Guid> Submit(string type = "transcode", string tenant = Tenants.Default, int maxAttempts = 3) => _process.Submit(type, tenant, maxAttempts);

    public Task Execute(Guid id, Func<Job, JobCommand> command, string tenant = Tenants.Default) => _process.Execute(id, command, tenant);

    public Task Execute(Guid id, JobCommand command, string tenant = Tenants.Default) => _process.Execute(id, command, tenant);

    public Task<IReadOnlyList<JobEvent>> Events(Guid id, string tenant = Tenants.Default) => _process.Events(id, tenant);
}
