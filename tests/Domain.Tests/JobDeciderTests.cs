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

    private static readonly Backoff Backoff = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
    private static readonly JobSubmitted Submitted = new(Id, "transcode", Input, null, "order-42", "fp", "key-1", MaxAttempts: 3, TimeoutSeconds: 60, Backoff, Now);
    private static JobStarted Started(int attempt = 1) => new(Id, attempt, "node-a", Now);
    private static JobProgressed Progressed(int percent) => new(Id, 1, percent, null, Now);
    private static readonly JobCompleted Completed = new(Id, JsonDocument.Parse("{}").RootElement, "application/json", Now);
    private static readonly JobFailed Failed = new(Id, 1, new JobError("boom", "It broke."), Now);
    private static readonly JobCancellationRequested CancelRequested = new(Id, null, Now);
    private static readonly JobCancelled Cancelled = new(Id, Now);

    private static JobAttemptFailed AttemptFailed(int attempt) => new(Id, attempt, new JobError("boom", "It broke."), Now.AddSeconds(1), Now);

    private static IReadOnlyList<JobEvent> Given(JobCommand when, params JobEvent[] given) => JobDecider.Decide(when, Job.Fold(given), Now);

    private static JobRuleViolation Refused(JobCommand when, params JobEvent[] given) =>
        Assert.Throws<JobRuleViolation>(() => Given(when, given));

    [Fact]
    public void Submitting_a_new_job_records_everything_needed_to_recognise_a_retry()
    {
        var events = Given(new SubmitJob(Id, "transcode", Input, "https://client.example/hook", "order-42", "fp", "key-1", 5, 30, Backoff));
        var submitted = Assert.IsType<JobSubmitted>(Assert.Single(events));
        Assert.Equal(("fp", "key-1", "order-42", 5, 30, Now), (submitted.Fingerprint, submitted.IdempotencyKey, submitted.CorrelationId, submitted.MaxAttempts, submitted.TimeoutSeconds, submitted.At));
    }

    [Fact]
    public void Submitting_a_job_that_exists_is_refused()
    {
        Assert.Equal("job_exists", Refused(new SubmitJob(Id, "transcode", Input, null, null, "fp", "key-1", 3, 60, Backoff), Submitted).Code);
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
        var progressed = Assert.IsType<JobProgressed>(Assert.Single(Given(new ReportProgress(1, 40, "encoding"), Submitted, Started(), Progressed(10))));
        Assert.Equal((1, 40, "encoding"), (progressed.Attempt, progressed.Percent, progressed.Message));
    }

    [Fact]
    public void The_same_percent_may_be_reported_again_with_a_new_message()
    {
        Assert.Single(Given(new ReportProgress(1, 40, "still encoding"), Submitted, Started(), Progressed(40)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void A_percent_outside_0_to_100_is_an_invalid_value(int percent)
    {
        var refused = Refused(new ReportProgress(1, percent, null), Submitted, Started());
        Assert.Equal((ViolationKind.InvalidValue, "progress_out_of_range"), (refused.Kind, refused.Code));
    }

    [Fact]
    public void Progress_going_backwards_is_refused()
    {
        var refused = Refused(new ReportProgress(1, 30, null), Submitted, Started(), Progressed(50));
        Assert.Equal((ViolationKind.Conflict, "progress_backwards"), (refused.Kind, refused.Code));
    }

    [Fact]
    public void Held_reports_and_an_outcome_decided_together_are_each_decided_on_the_job_the_ones_before_left()
    {
        var events = JobDecider.Decide(
            [new ReportProgress(1, 40, null), new ReportProgress(1, 100, "done"), new CompleteJob(1, Input, "application/json")],
            Job.Fold([Submitted, Started()])!, Now);
        Assert.Equal([typeof(JobProgressed), typeof(JobProgressed), typeof(JobCompleted)], events.Select(e => e.GetType()));

        // A report after the outcome is decided on the finished job: the whole group is refused.
        var refused = Assert.Throws<JobRuleViolation>(() => JobDecider.Decide(
            [new ReportProgress(1, 40, null), new CompleteJob(1, Input, "application/json"), new ReportProgress(1, 100, null)],
            Job.Fold([Submitted, Started()])!, Now));
        Assert.Equal("job_already_finished", refused.Code);
    }

    [Fact]
    public void Progress_before_the_start_or_after_the_end_is_refused()
    {
        Assert.Equal("job_not_processing", Refused(new ReportProgress(1, 10, null), Submitted).Code);
        Assert.Equal("job_already_finished", Refused(new ReportProgress(1, 10, null), Submitted, Started(), Completed).Code);
        Assert.Equal("job_already_finished", Refused(new ReportProgress(1, 10, null), Submitted, Started(), Failed).Code);
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
        Assert.IsType<JobCompleted>(Assert.Single(Given(new CompleteJob(1, Input, "application/json"), Submitted, Started())));
        Assert.IsType<JobFailed>(Assert.Single(Given(new FailAttempt(1, "boom", "It broke.", 0.5, Retryable: false), Submitted, Started())));
        Assert.Equal("job_not_processing", Refused(new CompleteJob(1, Input, "application/json"), Submitted).Code);
        Assert.Equal("job_already_finished", Refused(new FailAttempt(1, "boom", "again", 0.5), Submitted, Started(), Failed).Code);
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
        Assert.IsType<JobCancelled>(Assert.Single(Given(new ConfirmCancellation(1), Submitted, Started(), CancelRequested)));
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
        Assert.IsType<JobCompleted>(Assert.Single(Given(new CompleteJob(1, Input, "application/json"), Submitted, Started(), CancelRequested)));
    }

    [Fact]
    public void Cancellation_cannot_be_confirmed_when_nobody_asked_for_it()
    {
        Assert.Equal("cancellation_not_requested", Refused(new ConfirmCancellation(1), Submitted, Started()).Code);
    }

    [Fact]
    public void Folding_the_events_gives_status_attempt_and_progress()
    {
        Assert.Equal(new Job(Id, "transcode", JobStatus.Queued, 0, 0, false, 3, 0, Backoff, 3) { TimeoutSeconds = 60 }, Job.Fold([Submitted]));
        Assert.Equal(new Job(Id, "transcode", JobStatus.Processing, 1, 60, false, 3, 0, Backoff, 3) { TimeoutSeconds = 60 }, Job.Fold([Submitted, Started(), Progressed(60)]));
        Assert.Equal(new Job(Id, "transcode", JobStatus.Completed, 1, 100, false, 3, 0, Backoff, 3) { TimeoutSeconds = 60 }, Job.Fold([Submitted, Started(), Progressed(60), Completed]));
        Assert.Equal(new Job(Id, "transcode", JobStatus.Cancelled, 0, 0, true, 3, 0, Backoff, 3) { TimeoutSeconds = 60 }, Job.Fold([Submitted, CancelRequested, Cancelled]));
        Assert.Null(Job.Fold([]));
    }

    [Fact]
    public void A_stream_that_does_not_start_with_a_submission_is_not_a_job()
    {
        Assert.Throws<InvalidOperationException>(() => Job.Fold([Started()]));
    }

    [Fact]
    public void A_failed_attempt_is_retried_after_a_jittered_delay_while_attempts_remain()
    {
        var failed = Assert.IsType<JobAttemptFailed>(Assert.Single(Given(new FailAttempt(1, "timeout", "Took too long.", 0.25), Submitted, Started())));
        Assert.Equal((1, "timeout", Now.AddSeconds(0.25)), (failed.Attempt, failed.Error.Code, failed.RetryAt));

        var second = Assert.IsType<JobAttemptFailed>(Assert.Single(
            Given(new FailAttempt(2, "timeout", "Again.", 0.25), Submitted, Started(1), AttemptFailed(1), Started(2))));
        Assert.Equal(Now.AddSeconds(0.5), second.RetryAt);

        var job = Job.Fold([Submitted, Started(1), AttemptFailed(1)])!;
        Assert.Equal((JobStatus.Queued, 1, 0), (job.Status, job.Failures, job.Progress));
    }

    [Fact]
    public void The_last_attempt_failing_fails_the_job_for_good()
    {
        var failed = Assert.IsType<JobFailed>(Assert.Single(Given(new FailAttempt(3, "boom", "Third time.", 0.5),
            Submitted, Started(1), AttemptFailed(1), Started(2), AttemptFailed(2), Started(3))));
        Assert.Equal((3, "boom"), (failed.Attempt, failed.Error.Code));
    }

    [Fact]
    public void An_error_that_is_not_retryable_fails_the_job_at_once()
    {
        Assert.IsType<JobFailed>(Assert.Single(Given(new FailAttempt(1, "bad_input", "No such file.", 0.5, Retryable: false), Submitted, Started())));
    }

    [Fact]
    public void A_holder_whose_attempt_was_superseded_is_refused()
    {
        var given = new JobEvent[] { Submitted, Started(1), AttemptFailed(1), Started(2) };
        Assert.Equal("attempt_superseded", Refused(new ReportProgress(1, 50, null), given).Code);
        Assert.Equal("attempt_superseded", Refused(new CompleteJob(1, Input, "application/json"), given).Code);
        Assert.Equal("attempt_superseded", Refused(new FailAttempt(1, "x", "y", 0), Submitted, Started(1), AttemptFailed(1)).Code);
        Assert.Single(Given(new ReportProgress(2, 50, null), given));
    }

    [Fact]
    public void A_job_handed_back_is_queued_again_without_counting_a_failure()
    {
        var released = Assert.IsType<JobReleased>(Assert.Single(Given(new ReleaseJob(1, "node shutting down"), Submitted, Started())));
        var job = Job.Fold([Submitted, Started(), released])!;
        Assert.Equal((JobStatus.Queued, 0, 1), (job.Status, job.Failures, job.Attempt));
        Assert.Equal(2, Assert.IsType<JobStarted>(Assert.Single(Given(new StartJob("node-b"), Submitted, Started(), released))).Attempt);
    }

    [Fact]
    public void A_hand_back_does_not_use_up_an_attempt()
    {
        var released = new JobReleased(Id, 2, "node shutting down", Now);
        // Three attempts allowed; the second was handed back, so the fourth is the last, and its failure ends the job.
        var history = new JobEvent[] { Submitted, Started(1), AttemptFailed(1), Started(2), released, Started(3), AttemptFailed(3), Started(4) };
        Assert.Equal((4, 4), (Job.Fold(history)!.Attempt, Job.Fold(history)!.MaxAttempts));
        Assert.IsType<JobAttemptFailed>(Assert.Single(Given(new FailAttempt(3, "boom", "again", 0.5), history[..^2])));
        Assert.IsType<JobFailed>(Assert.Single(Given(new FailAttempt(4, "boom", "again", 0.5), history)));
    }

    [Fact]
    public void A_failure_or_hand_back_while_cancellation_is_pending_cancels_the_job()
    {
        Assert.IsType<JobCancelled>(Assert.Single(Given(new FailAttempt(1, "x", "y", 0), Submitted, Started(), CancelRequested)));
        Assert.IsType<JobCancelled>(Assert.Single(Given(new ReleaseJob(1, "shutdown"), Submitted, Started(), CancelRequested)));
    }

    [Fact]
    public void A_job_waiting_for_its_retry_can_be_cancelled_at_once()
    {
        var events = Given(new CancelJob(null), Submitted, Started(), AttemptFailed(1));
        Assert.IsType<JobCancelled>(events[^1]);
    }

    [Fact]
    public void Only_a_failed_job_can_be_redriven_and_it_gets_a_fresh_set_of_attempts()
    {
        var failedForGood = new JobEvent[] { Submitted, Started(1), AttemptFailed(1), Started(2), AttemptFailed(2), Started(3), Failed };
        var redriven = Assert.IsType<JobRedriven>(Assert.Single(Given(new RedriveJob("fixed the codec"), failedForGood)));
        var job = Job.Fold([.. failedForGood, redriven])!;
        // The attempt number keeps counting, as the history does; the limit moves three attempts on.
        Assert.Equal((JobStatus.Queued, 0, 3, 6), (job.Status, job.Failures, job.Attempt, job.MaxAttempts));
        Assert.Equal(4, Assert.IsType<JobStarted>(Assert.Single(Given(new StartJob("node-a"), [.. failedForGood, redriven]))).Attempt);
        JobEvent[] fourth = [.. failedForGood, redriven, Started(4)];
        Assert.IsType<JobAttemptFailed>(Assert.Single(Given(new FailAttempt(4, "boom", "again", 0.5), fourth)));

        Assert.Equal("job_not_failed", Refused(new RedriveJob(null), Submitted, Started()).Code);
        Assert.Equal("job_not_failed", Refused(new RedriveJob(null), Submitted, Started(), Completed).Code);
    }

    [Fact]
    public void A_redrive_may_set_the_attempts_and_time_out_of_the_job_from_then_on()
    {
        var timedOut = new JobEvent[] { Submitted, Started(1), new JobFailed(Id, 1, new JobError("timeout", "Ran past 60 s."), Now) };

        var redriven = Assert.IsType<JobRedriven>(Assert.Single(Given(new RedriveJob("give it longer", MaxAttempts: 2, TimeoutSeconds: 600), timedOut)));

        Assert.Equal(("give it longer", (int?)2, (int?)600), (redriven.Reason, redriven.MaxAttempts, redriven.TimeoutSeconds));
        var job = Job.Fold([.. timedOut, redriven])!;
        Assert.Equal((JobStatus.Queued, 3, 600), (job.Status, job.MaxAttempts, job.TimeoutSeconds));
        // A later redrive without a policy grants the one set last.
        JobEvent[] failedAgain = [.. timedOut, redriven, Started(2), AttemptFailed(2), Started(3), new JobFailed(Id, 3, new JobError("boom", "Again."), Now)];
        var again = Job.Fold([.. failedAgain, .. Given(new RedriveJob(null), failedAgain)])!;
        Assert.Equal((5, 600), (again.MaxAttempts, again.TimeoutSeconds));
    }

    [Fact]
    public void A_redrive_without_a_policy_keeps_the_jobs_own_as_one_stored_before_there_was_one_reads()
    {
        var failed = new JobEvent[] { Submitted, Started(1), Failed };

        var redriven = Assert.IsType<JobRedriven>(Assert.Single(Given(new RedriveJob("retry"), failed)));

        Assert.Equal(((int?)null, (int?)null), (redriven.MaxAttempts, redriven.TimeoutSeconds));
        var job = Job.Fold([.. failed, redriven])!;
        Assert.Equal((4, 60), (job.MaxAttempts, job.TimeoutSeconds));
    }

    private static readonly JobSuspended Suspended = new(Id, 1, "payment provider", Now.AddMinutes(15), Now);

    [Fact]
    public void A_suspended_attempt_waits_for_the_outside_party_and_its_word_ends_the_job()
    {
        var suspended = Assert.IsType<JobSuspended>(Assert.Single(Given(new SuspendJob(1, "payment provider", Now.AddMinutes(15)), Submitted, Started())));
        var job = Job.Fold([Submitted, Started(), suspended])!;
        Assert.Equal((JobStatus.Processing, "payment provider", Now.AddMinutes(15)), (job.Status, job.WaitingFor, job.WaitingUntil));

        Assert.IsType<JobCompleted>(Assert.Single(Given(new CompleteJob(1, Input, "application/json"), Submitted, Started(), Suspended)));
        var declined = Assert.IsType<JobFailed>(Assert.Single(Given(new FailAttempt(1, "card_declined", "Declined.", 0, Retryable: false), Submitted, Started(), Suspended)));
        Assert.Equal("card_declined", declined.Error.Code);
        Assert.Null(Job.Fold([Submitted, Started(), Suspended, declined])!.WaitingFor);
    }

    [Fact]
    public void A_wait_that_ends_in_the_past_or_from_a_superseded_attempt_is_refused()
    {
        Assert.Equal("wait_in_the_past", Refused(new SuspendJob(1, "payment provider", Now), Submitted, Started()).Code);
        Assert.Equal("attempt_superseded", Refused(new SuspendJob(1, "payment provider", Now.AddMinutes(1)), Submitted, Started(), AttemptFailed(1), Started(2)).Code);
    }

    [Fact]
    public void A_suspended_job_is_cancelled_at_once_as_no_runner_holds_it()
    {
        var events = Given(new CancelJob("changed my mind"), Submitted, Started(), Suspended);
        Assert.Equal([typeof(JobCancellationRequested), typeof(JobCancelled)], events.Select(e => e.GetType()));
    }

    [Fact]
    public void A_suspended_job_that_hears_nothing_fails_for_good_while_a_lost_lease_is_retried()
    {
        var timedOut = Assert.IsType<JobFailed>(Assert.Single(Given(new ExpireAttempt(1, 0.5), Submitted, Started(), Suspended)));
        Assert.Equal("wait_timed_out", timedOut.Error.Code);
        var lost = Assert.IsType<JobAttemptFailed>(Assert.Single(Given(new ExpireAttempt(1, 0.5), Submitted, Started())));
        Assert.Equal("lease_expired", lost.Error.Code);
    }

    [Fact]
    public void A_new_attempt_does_not_inherit_the_last_ones_wait()
    {
        var job = Job.Fold([Submitted, Started(), Suspended, AttemptFailed(1), Started(2)])!;
        Assert.Equal((JobStatus.Processing, null, false), (job.Status, job.WaitingFor, job.IsSuspended));
    }
}
