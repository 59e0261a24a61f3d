using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.TestSupport;

namespace EventSourced.Projections.Tests;

/// <summary>A test database with the event store, the job read models and a store that keeps them inline.</summary>
public sealed class JobsDatabase : TestDatabase
{
    public PostgresEventStore Store { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Migrate(SchemaModule.EventStore, JobReadModels.Schema);
        var types = new EventTypes();
        foreach (var (name, type) in JobEvent.TypeNames)
            types.Register(name, type);
        Store = new PostgresEventStore(DataSource, types, JobReadModels.Projections());
    }

    /// <summary>Submits a job the way the API does, and returns its id.</summary>
    public async Task<Guid> Submit(string type = "transcode", string tenant = Tenants.Default, int maxAttempts = 3)
    {
        var key = Guid.NewGuid().ToString();
        var id = Idempotency.JobId(tenant, key);
        var events = JobDecider.Decide(
            new JobCommand.SubmitJob(id, type, JsonDocument.Parse("""{"fileId":"f"}""").RootElement, null, null, "fp", key, maxAttempts, 60),
            null, DateTimeOffset.UtcNow);
        await Store.StartStream(id, "job", [.. events], tenantId: tenant);
        return id;
    }

    /// <summary>Runs a command against a job: read, decide, append at the version read.</summary>
    public async Task Execute(Guid id, JobCommand command)
    {
        var events = await Store.ReadStream(id);
        var decided = JobDecider.Decide(command, Job.Fold(events.Select(e => (JobEvent)e.Data)), DateTimeOffset.UtcNow);
        if (decided.Count > 0)
            await Store.Append(id, events[^1].Version, [.. decided]);
    }

    /// <summary>Runs a command that depends on the job's current attempt, as the attempt's holder.</summary>
    public async Task Execute(Guid id, Func<int, JobCommand> command)
    {
        var attempt = Job.Fold((await Store.ReadStream(id)).Select(e => (JobEvent)e.Data))!.Attempt;
        await Execute(id, command(attempt));
    }

    public static readonly Backoff QuickBackoff = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(10));
}
