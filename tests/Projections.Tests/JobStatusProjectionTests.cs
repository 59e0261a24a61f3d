using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using JasperFx.Events;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Tests;

/// <summary>The status document folded from events, without a database.</summary>
public sealed class JobStatusProjectionTests
{
    private static readonly Guid Id = Guid.NewGuid();
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly Backoff Backoff = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
    private static readonly JobStatusProjection Projection = new();

    private static JobStatusView? Fold(params JobEvent[] events)
    {
        JobStatusView? view = null;
        for (var i = 0; i < events.Length; i++)
            view = Projection.Evolve(view, Id, Stored(i + 1, events[i]));
        return view;
    }

    private static Event<JobEvent> Stored(long version, JobEvent e) => new(e) { Version = version, Sequence = 100 + version, TenantId = "acme", StreamId = Id };

    private static readonly JobSubmitted Submitted =
        new(Id, "report", JsonDocument.Parse("{}").RootElement, "https://client.example/hook", "order-42", "fp", "key-1", 3, 60, Backoff, T0);

    [Fact]
    public void A_submitted_job_is_queued_and_due_at_once()
    {
        var view = Fold(Submitted)!;
        Assert.Equal((JobStatus.Queued, 0, 0, "acme", "report", "key-1", "fp"),
            (view.State.Status, view.State.Progress, view.State.Attempt, view.TenantId, view.State.Type, view.IdempotencyKey, view.Fingerprint));
        Assert.Equal((T0, T0, (DateTimeOffset?)T0, 1L, 101L), (view.CreatedAt, view.UpdatedAt, view.RunAfter, view.Version, view.LastSeq));
        Assert.Equal(("order-42", "https://client.example/hook"), (view.CorrelationId, view.CallbackUrl));
    }

    [Fact]
    public void Progress_shows_percent_and_message_and_the_times_come_from_the_events()
    {
        var view = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0.AddSeconds(1)), new JobProgressed(Id, 1, 40, "halfway-ish", T0.AddSeconds(2)))!;
        Assert.Equal((JobStatus.Processing, 40, "halfway-ish", 1, (DateTimeOffset?)null),
            (view.State.Status, view.State.Progress, view.Message, view.State.Attempt, view.RunAfter));
        Assert.Equal((T0.AddSeconds(2), 3L, 103L), (view.UpdatedAt, view.Version, view.LastSeq));
    }

    [Fact]
    public void A_failure_keeps_its_code_and_message_and_its_time()
    {
        var view = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), new JobFailed(Id, 1, new JobError("upstream_down", "The encoder is down."), T0.AddMinutes(1)))!;
        Assert.Equal((JobStatus.Failed, new JobError("upstream_down", "The encoder is down."), (DateTimeOffset?)T0.AddMinutes(1)),
            (view.State.Status, view.Error, view.FinishedAt));
    }

    private static readonly JobSuspended Suspended = new(Id, 1, "payment provider", T0.AddMinutes(15), T0.AddSeconds(1));

    [Fact]
    public void A_suspended_job_that_ends_no_longer_says_it_is_waiting()
    {
        var waiting = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), Suspended)!;
        Assert.StartsWith("Waiting for the payment provider", waiting.Message, StringComparison.Ordinal);

        var failed = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), Suspended, new JobFailed(Id, 1, new JobError("card_declined", "Declined."), T0.AddMinutes(1)))!;
        var timedOut = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), Suspended, new JobFailed(Id, 1, new JobError("wait_timed_out", "No word."), T0.AddMinutes(16)))!;
        var completed = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), Suspended, new JobCompleted(Id, JsonDocument.Parse("{}").RootElement, "application/json", T0.AddMinutes(1)))!;
        var cancelled = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), Suspended, new JobCancellationRequested(Id, null, T0.AddMinutes(1)), new JobCancelled(Id, T0.AddMinutes(1)))!;
        Assert.Equal(((string?)null, (string?)null, (string?)null, (string?)null), (failed.Message, timedOut.Message, completed.Message, cancelled.Message));
    }

    [Fact]
    public void A_cancelled_job_is_finished_and_no_longer_due()
    {
        var view = Fold(Submitted, new JobCancellationRequested(Id, null, T0), new JobCancelled(Id, T0.AddSeconds(1)))!;
        Assert.Equal((JobStatus.Cancelled, true, (DateTimeOffset?)null, (DateTimeOffset?)T0.AddSeconds(1)),
            (view.State.Status, view.State.CancellationRequested, view.RunAfter, view.FinishedAt));
    }

    [Fact]
    public void A_failed_attempt_shows_its_error_and_when_the_next_one_is_due()
    {
        var view = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), new JobProgressed(Id, 1, 70, "most of it", T0),
            new JobAttemptFailed(Id, 1, new JobError("timeout", "Took too long."), T0.AddSeconds(30), T0.AddSeconds(10)))!;
        Assert.Equal((JobStatus.Queued, 0, 1, "timeout", (DateTimeOffset?)T0.AddSeconds(30), (string?)null),
            (view.State.Status, view.State.Progress, view.State.Failures, view.Error?.Code, view.RunAfter, view.Message));

        var completed = Projection.Evolve(Projection.Evolve(view, Id, Stored(5, new JobStarted(Id, 2, "node-b", T0.AddSeconds(31)))), Id,
            Stored(6, new JobCompleted(Id, JsonDocument.Parse("{}").RootElement, "application/json", T0.AddSeconds(40))))!;
        Assert.Equal((JobStatus.Completed, 2, (JobError?)null, (DateTimeOffset?)T0.AddSeconds(40)),
            (completed.State.Status, completed.State.Attempt, completed.Error, completed.FinishedAt));
    }

    [Fact]
    public void A_redriven_dead_letter_is_queued_with_its_error_cleared()
    {
        var view = Fold(Submitted, new JobStarted(Id, 1, "node-a", T0), new JobFailed(Id, 1, new JobError("boom", "It broke."), T0), new JobRedriven(Id, "fixed", T0.AddHours(1)))!;
        Assert.Equal((JobStatus.Queued, 0, (JobError?)null, (DateTimeOffset?)null, (DateTimeOffset?)T0.AddHours(1)),
            (view.State.Status, view.State.Failures, view.Error, view.FinishedAt, view.RunAfter));
    }
}
