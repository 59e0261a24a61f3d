using EventSourced.EventStore;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using Weasel.Postgresql.Tables;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Stats;

/// <summary>
/// Per tenant, job type and day a job finished: how many completed, failed and were cancelled, and a histogram of their
/// durations from submission to the end. Asynchronous, on Marten's daemon: appends never wait for it, and it catches up
/// from where it stopped (its progress is committed with its writes, so no event is counted twice). A duration is the
/// end's time less the submission's, which the projection keeps per job in a table of its own (events carry no job type
/// or start). Durations fall into buckets a quarter of a power of two wide (about 19 % apart), so percentiles cost a few
/// rows per day, not a row per job.
/// </summary>
public sealed class JobStatsProjection : EventProjection
{
    public const string ProjectionName = "job_stats";
    public const string Starts = EventStoreSetup.Schema + ".job_stats_starts";
    public const string Daily = EventStoreSetup.Schema + ".job_stats_daily";
    public const string Durations = EventStoreSetup.Schema + ".job_stats_durations";
    public const int BucketsPerDoubling = 4;

    public JobStatsProjection()
    {
        Name = ProjectionName;
        var starts = new Table(Starts);
        starts.AddColumn("tenant_id", "text").AsPrimaryKey();
        starts.AddColumn<Guid>("job_id").AsPrimaryKey();
        starts.AddColumn("type", "text").NotNull();
        starts.AddColumn("submitted_at", "timestamptz").NotNull();

        var daily = new Table(Daily);
        daily.AddColumn("tenant_id", "text").AsPrimaryKey();
        daily.AddColumn("type", "text").AsPrimaryKey();
        daily.AddColumn("day", "date").AsPrimaryKey();
        foreach (var outcome in new[] { "completed", "failed", "cancelled" })
            daily.AddColumn(outcome, "bigint").NotNull().DefaultValueByExpression("0");

        var durations = new Table(Durations);
        durations.AddColumn("tenant_id", "text").AsPrimaryKey();
        durations.AddColumn("type", "text").AsPrimaryKey();
        durations.AddColumn("day", "date").AsPrimaryKey();
        durations.AddColumn<int>("bucket").AsPrimaryKey();
        durations.AddColumn("jobs", "bigint").NotNull();

        foreach (var table in new[] { starts, daily, durations })
        {
            SchemaObjects.Add(table);
            Options.DeleteDataInTableOnTeardown(table.Identifier.QualifiedName);
        }
    }

    public override ValueTask ApplyAsync(IDocumentOperations operations, IEvent e, CancellationToken ct)
    {
        var outcome = e.Data switch
        {
            JobCompleted => "completed",
            JobFailed => "failed",
            JobCancelled => "cancelled",
            _ => null,
        };
        if (e.Data is JobSubmitted submitted)
        {
            operations.QueueSqlCommand($"INSERT INTO {Starts} (tenant_id, job_id, type, submitted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                e.TenantId, submitted.JobId, submitted.Type, submitted.At);
        }
        else if (outcome is not null)
        {
            var at = ((Domain.Jobs.JobEvent)e.Data).At;
            operations.QueueSqlCommand($"""
                INSERT INTO {Daily} AS d (tenant_id, type, day, {outcome})
                SELECT tenant_id, type, (?::timestamptz AT TIME ZONE 'UTC')::date, 1 FROM {Starts} WHERE tenant_id = ? AND job_id = ?
                ON CONFLICT (tenant_id, type, day) DO UPDATE SET {outcome} = d.{outcome} + 1
                """, at, e.TenantId, e.StreamId);
            operations.QueueSqlCommand($"""
                INSERT INTO {Durations} AS d (tenant_id, type, day, bucket, jobs)
                SELECT tenant_id, type, (?::timestamptz AT TIME ZONE 'UTC')::date,
                       floor({BucketsPerDoubling} * log(2, 1 + greatest(0, extract(epoch FROM ?::timestamptz - submitted_at) * 1000)))::int, 1
                FROM {Starts} WHERE tenant_id = ? AND job_id = ?
                ON CONFLICT (tenant_id, type, day, bucket) DO UPDATE SET jobs = d.jobs + 1
                """, at, at, e.TenantId, e.StreamId);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>The longest duration, in milliseconds, that falls in <paramref name="bucket"/>.</summary>
    public static double UpperBoundMs(int bucket) => Math.Pow(2, (bucket + 1.0) / BucketsPerDoubling) - 1;
}
