using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;

namespace EventSourced.TestSupport;

/// <summary>
/// A Marten store on a job database, configured as the service's, appending through group commit: what
/// another process has, reaching the service under test only through PostgreSQL.
/// </summary>
public sealed class JobStoreProcess : IDisposable
{
    public static readonly Backoff QuickBackoff = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(10));

    private JobStoreProcess(string connectionString)
    {
        Store = DocumentStore.For(options =>
        {
            options.Connection(connectionString);
            JobStorage.Configure(options);
        });
        Commits = new GroupCommit(Store);
        Queries = new JobQueries(Store);
    }

    public DocumentStore Store { get; }
    public GroupCommit Commits { get; }
    public JobQueries Queries { get; }

    public static JobStoreProcess On(string connectionString) => new(connectionString);

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

    /// <summary>A job's events as stored, in version order.</summary>
    public async Task<IReadOnlyList<JobEvent>> Events(Guid id, string tenant = Tenants.Default)
    {
        await using var session = Store.QuerySession(tenant);
        return [.. (await session.Events.FetchStreamAsync(id)).Select(e => (JobEvent)e.Data)];
    }

    public void Dispose() => Store.Dispose();
}
