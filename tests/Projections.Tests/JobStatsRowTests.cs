using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Stats;
using JasperFx.Events;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Tests;

/// <summary>A job's statistics row as a rebuild folds it in memory, by the rules the live projection's statements follow.</summary>
public sealed class JobStatsRowTests
{
    private static readonly Guid Id = Guid.NewGuid();
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly JobSubmitted Submitted = new(
        Id, "report", JsonDocument.Parse("{}").RootElement, null, null, "fp", "key-1", 3, 60, new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), T0);

    private static JobStatsRow? Fold(params JobEvent[] events) =>
        events.Select(e => (IEvent)new Event<JobEvent>(e) { TenantId = "acme", StreamId = Id }).Aggregate((JobStatsRow?)null, JobStatsProjection.Evolve);

    [Fact]
    public void A_job_that_ended_has_its_outcome_and_its_duration_in_whole_microseconds_as_PostgreSQL_keeps_them()
    {
        // 1.5 s and 7 ticks: PostgreSQL stores the times in whole microseconds, so the duration it computes drops the 0.7 µs.
        var row = Fold(Submitted, new JobStarted(Id, 1, "node", T0), new JobFailed(Id, 1, new JobError("boom", "It broke."), T0.AddTicks(15_000_007)))!;
        Assert.Equal(("acme", Id, "report", T0, "failed", 1500.0), (row.TenantId, row.JobId, row.Type, row.SubmittedAt, row.Outcome, row.DurationMs));
    }

    [Fact]
    public void A_redriven_job_counts_by_how_it_ends_at_last()
    {
        var redriven = Fold(Submitted, new JobFailed(Id, 1, new JobError("boom", "It broke."), T0.AddSeconds(1)), new JobRedriven(Id, null, T0.AddSeconds(2), null, null))!;
        Assert.Equal(((string?)null, (DateTimeOffset?)null, (double?)null), (redriven.Outcome, redriven.EndedAt, redriven.DurationMs));
        var cancelled = Fold(Submitted, new JobFailed(Id, 1, new JobError("boom", "It broke."), T0.AddSeconds(1)), new JobRedriven(Id, null, T0.AddSeconds(2), null, null),
            new JobCancelled(Id, T0.AddSeconds(3)))!;
        Assert.Equal(("cancelled", 3000.0), (cancelled.Outcome, cancelled.DurationMs));
    }

    [Fact]
    public void Events_of_a_job_whose_submission_is_missing_make_no_row()
    {
        Assert.Null(Fold(new JobCompleted(Id, JsonDocument.Parse("{}").RootElement, "application/json", T0)));
    }
}
