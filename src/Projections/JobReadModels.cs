using EventSourced.Projections.Jobs;
using EventSourced.Projections.Stats;
using JasperFx.Events.Projections;
using EventSourced.Domain.Jobs;
using Marten;
using Marten.Schema;

namespace EventSourced.Projections;

/// <summary>
/// A read model's table, the column holding its job's id (beside tenant_id), and the columns a verification compares.
/// Inline read models are kept in the transaction of every append; the statistics by Marten's daemon, a little later.
/// </summary>
public sealed record ReadModelTable(string Name, string JobColumn, IReadOnlyList<string> ComparedColumns, bool Inline);

/// <summary>The job read models: their projections and their tables.</summary>
public static class JobReadModels
{
    public static readonly IReadOnlyList<string> Names = [JobStatusProjection.ProjectionName, JobResultProjection.ProjectionName, JobStatsProjection.ProjectionName];

    /// <summary>Each read model's table, by projection name.</summary>
    public static readonly IReadOnlyDictionary<string, ReadModelTable> Tables = new Dictionary<string, ReadModelTable>
    {
        [JobStatusProjection.ProjectionName] = new("mt_doc_job_status", "id", ["data"], Inline: true),
        [JobResultProjection.ProjectionName] = new("mt_doc_job_results", "id", ["data"], Inline: true),
        [JobStatsProjection.ProjectionName] = new(JobStatsProjection.TableName, "job_id", ["type", "submitted_at", "outcome", "ended_at", "duration_ms"], Inline: false),
    };

    public static void Configure(StoreOptions options)
    {
        options.Projections.Add(new JobStatusProjection(), ProjectionLifecycle.Inline);
        // The status projection queues callbacks (JobCallbackDue) in the transaction of the events that call for them.
        options.Events.EnableSideEffectsOnInlineProjections = true;
        options.Projections.Add(new JobResultProjection(), ProjectionLifecycle.Inline);
        options.Projections.Add(new JobStatsProjection(), ProjectionLifecycle.Async);
        // An event the stats cannot read or apply is set aside as a dead letter (mt_doc_deadletterevent); the others go on.
        options.Projections.Errors.SkipApplyErrors = true;
        options.Projections.Errors.SkipSerializationErrors = true;
        ConfigureDocuments(options);
    }

    /// <summary>The read models' tables: their names, columns and indexes (also those of a rebuild's shadow copy).</summary>
    public static void ConfigureDocuments(StoreOptions options)
    {
        // Numeric revisions, as Marten gives the documents of a single-stream projection: said here too so that a
        // rebuild's copy, made by a store without the projection, has the same columns.
        options.Schema.For<JobStatusView>().DocumentAlias("job_status").UseNumericRevisions(true);
        options.Policies.ForAllDocuments(mapping =>
        {
            if (mapping.DocumentType == typeof(JobStatusView))
                AddQueueColumns(mapping);
        });
        options.Schema.For<JobResultView>().DocumentAlias("job_results");
    }

    /// <summary>
    /// Columns beside the JSON for what is searched and sorted in SQL, and only the indexes those
    /// searches use (Marten's own way adds an index to every such column, each one more write per append):
    /// runners find due jobs by type, tenant (in turns) and due time, sweeps find running jobs, dead letters are a
    /// tenant's failed jobs, newest first, audit retention finds jobs that finished long ago, and search pages through a
    /// tenant's jobs by creation time.
    /// </summary>
    private static void AddQueueColumns(DocumentMapping mapping)
    {
        var state = typeof(JobStatusView).GetProperty(nameof(JobStatusView.State))!;
        mapping.DuplicateField([state, typeof(Job).GetProperty(nameof(Job.Status))!], "text", "status", notNull: true, partOfPrimaryKey: false);
        mapping.DuplicateField([state, typeof(Job).GetProperty(nameof(Job.Type))!], "text", "type", notNull: true, partOfPrimaryKey: false);
        mapping.DuplicateField([typeof(JobStatusView).GetProperty(nameof(JobStatusView.RunAfter))!], "timestamptz", "run_after", notNull: false, partOfPrimaryKey: false);
        mapping.DuplicateField([typeof(JobStatusView).GetProperty(nameof(JobStatusView.FinishedAt))!], "timestamptz", "finished_at", notNull: false, partOfPrimaryKey: false);
        // Nullable, though always set: Marten adds a nullable column to an existing table and fills it from the JSON.
        mapping.DuplicateField([typeof(JobStatusView).GetProperty(nameof(JobStatusView.CreatedAt))!], "timestamptz", "created_at", notNull: false, partOfPrimaryKey: false);
        mapping.DuplicateField([typeof(JobStatusView).GetProperty(nameof(JobStatusView.CorrelationId))!], "text", "correlation_id", notNull: false, partOfPrimaryKey: false);
        AddIndex(mapping, "job_status_due", $"status = '{JobStatus.Queued}'", "type", "tenant_id", "run_after");
        AddIndex(mapping, "job_status_running", $"status = '{JobStatus.Processing}'", "id");
        AddIndex(mapping, "job_status_dead_letters", $"status = '{JobStatus.Failed}'", "tenant_id", "finished_at", "id");
        AddIndex(mapping, "job_status_finished", "finished_at is not null", "finished_at");
        // Search (GET /jobs), newest first, paged by (created_at, id): one index per filter that narrows it.
        AddIndex(mapping, "job_status_search", null, "tenant_id", "created_at", "id");
        AddIndex(mapping, "job_status_search_by_status", null, "tenant_id", "status", "created_at", "id");
        AddIndex(mapping, "job_status_search_by_type", null, "tenant_id", "type", "created_at", "id");
        AddIndex(mapping, "job_status_search_by_correlation", "correlation_id is not null", "tenant_id", "correlation_id", "created_at", "id");
    }

    private static void AddIndex(DocumentMapping mapping, string name, string? predicate, params string[] columns)
    {
        var index = mapping.AddIndex(columns);
        index.Name = name;
        index.Predicate = predicate;
    }
}
