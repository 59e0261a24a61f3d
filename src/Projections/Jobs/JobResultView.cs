using System.Text.Json;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Jobs;

/// <summary>A completed job's result: JSON, or a JSON string holding text of another content type (a CSV).</summary>
public sealed record JobResultView(Guid Id, string ContentType, JsonElement Body, DateTimeOffset CompletedAt);

/// <summary>Keeps each completed job's result apart from its status, so the status document stays small.</summary>
public sealed partial class JobResultProjection : EventProjection
{
    public const string ProjectionName = "job_results";

    public JobResultProjection()
    {
        Name = ProjectionName;
        IncludeType<JobCompleted>();
    }

    public override ValueTask ApplyAsync(IDocumentOperations operations, IEvent e, CancellationToken cancellation)
    {
        // Inline, the operations are those of the appending session, which may append for several tenants.
        if (ResultOf(e) is { } result)
            operations.ForTenant(e.TenantId).Store(result);
        return ValueTask.CompletedTask;
    }

    /// <summary>The result an event records, if it records one.</summary>
    public static JobResultView? ResultOf(IEvent e) =>
        e.Data is JobCompleted completed ? new JobResultView(e.StreamId, completed.ResultContentType, completed.Result, completed.At) : null;
}
