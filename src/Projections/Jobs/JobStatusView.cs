using EventSourced.Domain.Jobs;
using JasperFx.Events;
using Marten;
using Marten.Events.Aggregation;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Jobs;

/// <summary>
/// Where a job stands: one document per job, kept by <see cref="JobStatusProjection"/> in the
/// transaction of every append, so it is never behind its events. GET /jobs/{id} reads it, and
/// commands decide on its <see cref="State"/>, the domain's own fold of the events.
/// </summary>
public sealed record JobStatusView
{
    public required Guid Id { get; init; }
    public required string TenantId { get; init; }
    public required Job State { get; init; }
    public required string IdempotencyKey { get; init; }
    public required string Fingerprint { get; init; }
    public string? CorrelationId { get; init; }
    public string? CallbackUrl { get; init; }

    /// <summary>The SSE event names the callback URL is told of.</summary>
    public IReadOnlyList<string> CallbackEvents { get; init; } = [];

    /// <summary>How many jobs its Idempotency-Key started before this one (each had expired).</summary>
    public int KeyGeneration { get; init; }
    public string? Message { get; init; }

    /// <summary>The last attempt's error: it stays visible while the next attempt is due.</summary>
    public JobError? Error { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When it completed, failed for good or was cancelled.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>While queued: when a runner may take it.</summary>
    public DateTimeOffset? RunAfter { get; init; }

    /// <summary>The stream's version: the ETag, and the expected version of a conditional command.</summary>
    public long Version { get; init; }

    /// <summary>The global sequence number of the job's last event that its SSE stream sends (callback records are not): a client that has it has seen everything.</summary>
    public long LastSeq { get; init; }
}

/// <summary>Folds a job's events into its <see cref="JobStatusView"/>. Deterministic: times come from the events, never the clock.</summary>
public sealed class JobStatusProjection : SingleStreamProjection<JobStatusView, Guid>
{
    public const string ProjectionName = "job_status";

    public JobStatusProjection() => Name = ProjectionName;

    public override JobStatusView? Evolve(JobStatusView? view, Guid id, IEvent e)
    {
        if (e.Data is not JobEvent jobEvent)
            return view;
        if (Callbacks.IsRecord(jobEvent))
            return view! with { Version = e.Version };
        var state = Job.Evolve(view?.State, jobEvent);
        var next = (view, jobEvent) switch
        {
            (null, JobSubmitted s) => new JobStatusView
            {
                Id = id, TenantId = e.TenantId, State = state, IdempotencyKey = s.IdempotencyKey, Fingerprint = s.Fingerprint,
                CorrelationId = s.CorrelationId, CallbackUrl = s.CallbackUrl, CallbackEvents = s.CallbackEvents ?? Callbacks.Default,
                KeyGeneration = s.KeyGeneration, CreatedAt = s.At, UpdatedAt = s.At, RunAfter = s.At,
            },
            (null, _) => throw new InvalidOperationException($"Job {id} has no status to apply {e.EventTypeName} to."),
            (_, JobStarted) => view with { Message = null, RunAfter = null },
            (_, JobProgressed p) => view with { Message = p.Message },
            (_, JobSuspended w) => view with { Message = $"Waiting for the {w.WaitingFor} until {w.Until:u}." },
            (_, JobCompleted c) => view with { Message = null, Error = null, FinishedAt = c.At },
            (_, JobAttemptFailed a) => view with { Message = null, Error = a.Error, RunAfter = a.RetryAt },
            // The message is the running attempt's (its progress, or whom it waits for): what ends the attempt ends it.
            (_, JobFailed f) => view with { Message = null, Error = f.Error, FinishedAt = f.At },
            (_, JobReleased r) => view with { Message = null, RunAfter = r.At },
            (_, JobRedriven r) => view with { Error = null, FinishedAt = null, RunAfter = r.At },
            (_, JobCancelled c) => view with { Message = null, FinishedAt = c.At, RunAfter = null },
            _ => view,
        };
        return next with { State = state, UpdatedAt = jobEvent.At, Version = e.Version, LastSeq = e.Sequence };
    }

    /// <summary>
    /// Queues the callbacks the job's events call for, through Wolverine's outbox: stored in the transaction that
    /// appends the events, sent once it commits. A rebuild folds with Evolve alone and raises none.
    /// </summary>
    public override ValueTask RaiseSideEffects(IDocumentOperations operations, IEventSlice<JobStatusView> slice)
    {
        if (slice.Snapshot is { CallbackUrl: not null } view)
        {
            foreach (var e in slice.Events())
            {
                if (e.Data is JobEvent jobEvent && Callbacks.NameOf(jobEvent) is { } name && view.CallbackEvents.Contains(name))
                    slice.PublishMessage(new JobCallbackDue(view.Id, e.TenantId, e.Version, Attempt: 1));
            }
        }
        return ValueTask.CompletedTask;
    }
}
