using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Tests;

/// <summary>The status row folded from events, without a database.</summary>
public sealed class JobStatusProjectionTests
{
    private static readonly Guid Id = Guid.NewGuid();
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static JobStatusRow? Fold(params JobEvent[] events)
    {
        JobStatusRow? row = null;
        var version = 0;
        foreach (var e in events)
        {
            version++;
            row = JobStatusProjection.Evolve(row, new StoredEvent(100 + version, Guid.NewGuid(), Id, version,
                JobEvent.TypeNames.Single(n => n.Value == e.GetType()).Key, e, EventMetadata.None, "acme", T0, 1));
        }
        return row;
    }

    private static readonly JobSubmitted Submitted =
        new(Id, "report", JsonDocument.Parse("{}").RootElement, "https://client.example/hook", "order-42", "fp", "key-1", 3, 60, T0);

    [Fact]
    public void A_submitted_job_is_queued_and_due_at_once()
    {
        var row = Fold(Submitted)!;
        Assert.Equal((JobStatus.Queued, 0, 0, "acme", "report", "key-1", "fp"), (row.Status, row.Progress, row.Attempt, row.TenantId, row.Type, row.IdempotencyKey, row.Fingerprint));
        Assert.Equal((T0, T0, (DateTimeOffset?)T0, 1L, 101L), (row.CreatedAt, row.UpdatedAt, row.RunAfter, row.Version, row.LastSeq));
        Assert.Equal(("order-42", "https://client.example/hook"), (row.CorrelationId, row.CallbackUrl));
    }

    [Fact]
    public void Progress_shows_percent_and_message_and_the_times_come_from_the_events()
    {
        var row = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0.AddSeconds(1)), new JobProgressed(Id, 1, 40, "halfway-ish", T0.AddSeconds(2)))!;
        Assert.Equal((JobStatus.Processing, 40, "halfway-ish", 1, (DateTimeOffset?)null), (row.Status, row.Progress, row.Message, row.Attempt, row.RunAfter));
        Assert.Equal(T0.AddSeconds(2), row.UpdatedAt);
    }

    [Fact]
    public void A_failure_keeps_its_code_and_message_and_its_time()
    {
        var row = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), new JobFailed(Id, 1, "upstream_down", "The encoder is down.", T0.AddMinutes(1)))!;
        Assert.Equal((JobStatus.Failed, "upstream_down", "The encoder is down.", (DateTimeOffset?)T0.AddMinutes(1)),
            (row.Status, row.ErrorCode, row.ErrorMessage, row.CompletedAt));
        Assert.True(row.IsFinished);
    }

    [Fact]
    public void A_cancelled_job_is_finished_and_no_longer_due()
    {
        var row = Fold(Submitted, new JobCancellationRequested(Id, null, T0), new JobCancelled(Id, T0.AddSeconds(1)))!;
        Assert.Equal((JobStatus.Cancelled, true, (DateTimeOffset?)null, (DateTimeOffset?)T0.AddSeconds(1)),
            (row.Status, row.CancellationRequested, row.RunAfter, row.CompletedAt));
    }

    [Fact]
    public void An_event_already_applied_is_not_applied_again()
    {
        var row = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0))!;
        var again = JobStatusProjection.Evolve(row, new StoredEvent(999, Guid.NewGuid(), Id, 2, "job.started", new JobStarted(Id, 7, "x", T0), EventMetadata.None, "acme", T0, 1));
        Assert.Same(row, again);
    }

    [Fact]
    public void A_failed_attempt_shows_its_error_and_when_the_next_one_is_due()
    {
        var row = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), new JobProgressed(Id, 1, 70, "most of it", T0),
            new JobAttemptFailed(Id, 1, "timeout", "Took too long.", T0.AddSeconds(30), T0.AddSeconds(10)))!;
        Assert.Equal((JobStatus.Queued, 0, 1, 3, "timeout", (DateTimeOffset?)T0.AddSeconds(30), (string?)null),
            (row.Status, row.Progress, row.Failures, row.MaxAttempts, row.ErrorCode, row.RunAfter, row.Message));

        var completed = JobStatusProjection.Evolve(JobStatusProjection.Evolve(row, Stored(6, new JobStarted(Id, 2, "node-b", T0.AddSeconds(31)))),
            Stored(7, new JobCompleted(Id, JsonDocument.Parse("{}").RootElement, "application/json", T0.AddSeconds(40))));
        Assert.Equal((JobStatus.Completed, 2, (string?)null), (completed.Status, completed.Attempt, completed.ErrorCode));
    }

    [Fact]
    public void A_redriven_dead_letter_is_queued_with_its_error_cleared()
    {
        var row = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), new JobFailed(Id, 1, "boom", "It broke.", T0), new JobRedriven(Id, "fixed", T0.AddHours(1)))!;
        Assert.Equal((JobStatus.Queued, 0, (string?)null, (DateTimeOffset?)null, (DateTimeOffset?)T0.AddHours(1)),
            (row.Status, row.Failures, row.ErrorCode, row.CompletedAt, row.RunAfter));
    }

    private static StoredEvent Stored(long version, JobEvent e) =>
        new(100 + version, Guid.NewGuid(), Id, version, JobEvent.TypeNames.Single(n => n.Value == e.GetType()).Key, e, EventMetadata.None, "acme", T0, 1);
}
