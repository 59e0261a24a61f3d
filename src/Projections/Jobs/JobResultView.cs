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
        if (e.Data is JobCompleted completed)
            operations.ForTenant(e.TenantId).Store(new JobResultView(e.StreamId, completed.ResultContentType, completed.Result, completed.At));
        return ValueTask.CompletedTask;
    }
}
