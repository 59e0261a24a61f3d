using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;

namespace EventSourced.TestSupport;

/// <summary>A test database with a Marten store configured as the service's: job events, read models kept inline, leases.</summary>
public sealed class JobsDatabase : TestDatabase
{
    public static readonly Backoff QuickBackoff = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(10));

    public DocumentStore Store { get; private set; } = null!;
    public GroupCommit Commits { get; private set; } = null!;
    public JobQueries Queries { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Store = DocumentStore.For(options =>
        {
            options.Connection(ConnectionString);
            JobStorage.Configure(options);
        });
        await Store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        Commits = new GroupCommit(Store);
        Queries = new JobQueries(Store);
    }

    public override async Task DisposeAsync()
    {
        Store.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>Submits a job the way the API does, and returns its id.</summary>
    public async Task<Guid> Submit(string type = "transcode", string tenant = Tenants.Default, int maxAttempts = 3)
    {
        var key = Guid.NewGuid().ToString();
        var id = Idempotency.JobId(tenant, key);
        var events = JobDecider.Decide(
            new JobCommand.SubmitJob(id, type, JsonDocument.Parse("""{"fileId":"f"}""").RootElement, null, null, "fp", key, maxAttempts, 60, QuickBackoff),
            null, DateTimeOffset.UtcNow);
        await Commits.Append(new StreamAppend(id, tenant, 0, [.. events], EventMetadata.None, typeof(Job)));
        return id;
    }

    /// <summary>Runs a command against a job as the runner does: decide on its current state, append at its version.</summary>
    public async Task Execute(Guid id, Func<Job, JobCommand> command, string tenant = Tenants.Default)
    {
        var view = (await Queries.Status(id, tenant, default))!;
        var decided = JobDecider.Decide(command(view.State), view.State, DateTimeOffset.UtcNow);
        if (decided.Count > 0)
            await Commits.Append(new StreamAppend(id, tenant, view.Version, [.. decided], EventMetadata.None, typeof(Job)));
    }

    public Task Execute(Guid id, JobCommand command, string tenant = Tenants.Default) => Execute(id, _ => command, tenant);
}
