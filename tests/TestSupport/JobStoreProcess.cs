using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using Marten;

namespace EventSourced.TestSupport;

/// <summary>
/// A Marten store on a job database, configured as the service's, appending through the write port: what
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
        Streams = new JobStreams(Store, TimeProvider.System);
        Queries = new JobQueries(Store);
    }

    public DocumentStore Store { get; }
    public JobStreams Streams { get; }
    public JobQueries Queries { get; }

    public static JobStoreProcess On(string connectionString) => new(connectionString);

    /// <summary>Submits a job the way the API does, and returns its id.</summary>
    public async Task<Guid> Submit(string type = "transcode", string tenant = Tenants.Default, int maxAttempts = 3)
    {
        var key = Guid.NewGuid().ToString();
        var id = Idempotency.JobId(tenant, key);
        await Streams.Submit(
            new JobCommand.SubmitJob(id, type, JsonDocument.Parse("""{"fileId":"f"}""").RootElement, null, null, "fp", key, maxAttempts, 60, QuickBackoff),
            tenant, EventMetadata.None, default);
        return id;
    }

    /// <summary>Runs a command against a job as the runner does: decide on its current state, append at its version.</summary>
    public async Task Execute(Guid id, Func<Job, JobCommand> command, string tenant = Tenants.Default)
    {
        var view = (await Queries.Status(id, tenant, default))!;
        await Streams.Execute(JobAt.Of(view), [command(view.State)], EventMetadata.None, default);
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
