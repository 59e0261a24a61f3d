using System.Text.Json;
using EventSourced.Domain.Jobs;
using static EventSourced.Domain.Jobs.JobCommand;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Domain.Tests;

/// <summary>Given the events so far, when a command arrives, then these events (or this refusal).</summary>
public sealed class JobDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Id = Guid.NewGuid();
    private static readonly JsonElement Input = JsonDocument.Parse("""{"fileId":"f-1"}""").RootElement;

    private static readonly JobSubmitted Submitted = new(Id, "transcode", Input, null, "order-42", "fp", "key-1", Now);
    private static JobStarted Started(int attempt = 1) => new(Id, attempt, "node-a", Now);
    private static JobProgressed Progressed(int percent) => new(Id, 1, percent, null, Now);
    private static readonly JobCompleted Completed = new(Id, JsonDocument.Parse("{}").RootElement, "application/json", Now);
    private static readonly JobFailed Failed = new(Id, "boom", "It broke.", Now);
    private static readonly JobCancellationRequested CancelRequested = new(Id, null, Now);
    private static readonly JobCancelled Cancelled = new(Id, Now);

    private static IReadOnlyList<JobEvent> Given(JobCommand when, params JobEvent[] given) => JobDecider.Decide(when, Job.Fold(given), Now);

    private static JobRuleViolation Refused(JobCommand when, params JobEvent[] given) =>
        Assert.Throws<JobRuleViolation>(() => Given(when, given));

    [Fact]
    public void Submitting_a_new_job_records_everything_needed_to_recognise_a_retry()
    {
        var events = Given(new SubmitJob(Id, "transcode", Input, "https://client.example/hook", "order-42", "fp", "key-1"));
        var submitted = Assert.IsType<JobSubmitted>(Assert.Single(events));
        Assert.Equal(("fp", "key-1", "order-42", Now), (submitted.Fingerprint, submitted.IdempotencyKey, submitted.CorrelationId, submitted.At));
    }

    [Fact]
    public void Submitting_a_job_that_exists_is_refused()
    {
        Assert.Equal("job_exists", Refused(new SubmitJob(Id, "transcode", Input, null, null, "fp", "key-1"), Submitted).Code);
    }

    [Fact]
    public void Any_other_command_for_a_job_that_does_not_exist_is_not_found()
    {
        Assert.Equal(ViolationKind.NotFound, Refused(new CancelJob(null)).Kind);
    }

    [Fact]
    public void Starting_a_queued_job_begins_attempt_one()
    {
        var started = Assert.IsType<JobStarted>(Assert.Single(Given(new StartJob("node-a"), Submitted)));
        Assert.Equal((1, "node-a"), (started.Attempt, started.Worker));
    }

    [Fact]
    public void Starting_a_job_that_is_already_running_or_finished_is_refused()
    {
        Assert.Equal("job_not_queued", Refused(new StartJob("node-b"), Submitted, Started()).Code);
        Assert.Equal("job_already_finished", Refused(new StartJob("node-b"), Submitted, Started(), Completed).Code);
    }

    [Fact]
    public void Progress_of_a_running_job_is_recorded_with_its_attempt()
    {
        var progressed = Assert.IsType<JobProgressed>(Assert.Single(Given(new ReportProgress(40, "encoding"), Submitted, Started(), Progressed(10))));
        Assert.Equal((1, 40, "encoding"), (progressed.Attempt, progressed.Percent, progressed.Message));
    }

    [Fact]
    public void The_same_percent_may_be_reported_again_with_a_new_message()
    {
        Assert.Single(Given(new ReportProgress(40, "still encoding"), Submitted, Started(), Progressed(40)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void A_percent_outside_0_to_100_is_an_invalid_value(int percent)
    {
        var refused = Refused(new ReportProgress(percent, null), Submitted, Started());
        Assert.Equal((ViolationKind.InvalidValue, "progress_out_of_range"), (refused.Kind, refused.Code));
    }

    [Fact]
    public void Progress_going_backwards_is_refused()
    {
        var refused = Refused(new ReportProgress(30, null), Submitted, Started(), Progressed(50));
        Assert.Equal((ViolationKind.Conflict, "progress_backwards"), (refused.Kind, refused.Code));
    }

    [Fact]
    public void Progress_before_the_start_or_after_the_end_is_refused()
    {
        Assert.Equal("job_not_processing", Refused(new ReportProgress(10, null), Submitted).Code);
        Assert.Equal("job_already_finished", Refused(new ReportProgress(10, null), Submitted, Started(), Completed).Code);
        Assert.Equal("job_already_finished", Refused(new ReportProgress(10, null), Submitted, Started(), Failed).Code);
    }

    [Fact]
    public void A_new_attempt_starts_its_progress_from_zero()
    {
        var job = Job.Fold([Submitted, Started(1), Progressed(80), Started(2)])!;
        Assert.Equal((2, 0), (job.Attempt, job.Progress));
    }

    [Fact]
    public void Only_a_running_job_can_complete_or_fail()
    {
        Assert.IsType<JobCompleted>(Assert.Single(Given(new CompleteJob(Input, "application/json"), Submitted, Started())));
        Assert.IsType<JobFailed>(Assert.Single(Given(new FailJob("boom", "It broke."), Submitted, Started())));
        Assert.Equal("job_not_processing", Refused(new CompleteJob(Input, "application/json"), Submitted).Code);
        Assert.Equal("job_already_finished", Refused(new FailJob("boom", "again"), Submitted, Started(), Failed).Code);
    }

    [Fact]
    public void Cancelling_a_queued_job_cancels_it_at_once()
    {
        var events = Given(new CancelJob("changed my mind"), Submitted);
        Assert.Collection(events,
            e => Assert.Equal("changed my mind", Assert.IsType<JobCancellationRequested>(e).Reason),
            e => Assert.IsType<JobCancelled>(e));
        Assert.Equal(JobStatus.Cancelled, Job.Fold([Submitted, .. events])!.Status);
    }

    [Fact]
    public void Cancelling_a_running_job_asks_its_runner_to_stop()
    {
        Assert.IsType<JobCancellationRequested>(Assert.Single(Given(new CancelJob(null), Submitted, Started())));
        Assert.IsType<JobCancelled>(Assert.Single(Given(new ConfirmCancellation(), Submitted, Started(), CancelRequested)));
    }

    [Fact]
    public void Asking_again_to_cancel_changes_nothing()
    {
        Assert.Empty(Given(new CancelJob(null), Submitted, Started(), CancelRequested));
        Assert.Empty(Given(new CancelJob(null), Submitted, CancelRequested, Cancelled));
    }

    [Fact]
    public void A_completed_or_failed_job_cannot_be_cancelled()
    {
        Assert.Equal("job_already_finished", Refused(new CancelJob(null), Submitted, Started(), Completed).Code);
        Assert.Equal("job_already_finished", Refused(new CancelJob(null), Submitted, Started(), Failed).Code);
    }

    [Fact]
    public void Work_that_finishes_before_the_runner_sees_a_cancellation_request_still_completes()
    {
        Assert.IsType<JobCompleted>(Assert.Single(Given(new CompleteJob(Input, "application/json"), Submitted, Started(), CancelRequested)));
    }

    [Fact]
    public void Cancellation_cannot_be_confirmed_when_nobody_asked_for_it()
    {
        Assert.Equal("job_not_processing", Refused(new ConfirmCancellation(), Submitted, Started()).Code);
    }

    [Fact]
    public void Folding_the_events_gives_status_attempt_and_progress()
    {
        Assert.Equal(new Job(Id, "transcode", JobStatus.Queued, 0, 0, false), Job.Fold([Submitted]));
        Assert.Equal(new Job(Id, "transcode", JobStatus.Processing, 1, 60, false), Job.Fold([Submitted, Started(), Progressed(60)]));
        Assert.Equal(new Job(Id, "transcode", JobStatus.Completed, 1, 100, false), Job.Fold([Submitted, Started(), Progressed(60), Completed]));
        Assert.Equal(new Job(Id, "transcode", JobStatus.Cancelled, 0, 0, true), Job.Fold([Submitted, CancelRequested, Cancelled]));
        Assert.Null(Job.Fold([]));
    }

    [Fact]
    public void A_stream_that_does_not_start_with_a_submission_is_not_a_job()
    {
        Assert.Throws<InvalidOperationException>(() => Job.Fold([Started()]));
    }
}
