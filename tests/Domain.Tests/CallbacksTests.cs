using EventSourced.Domain.Jobs;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Domain.Tests;

public sealed class CallbacksTests
{
    private static readonly Guid JobId = Guid.NewGuid();
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan[] Schedule = [TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5)];

    [Fact]
    public void Each_retry_waits_a_random_share_of_its_schedules_delay_until_the_schedule_runs_out()
    {
        Assert.Equal(TimeSpan.FromSeconds(2.5), Callbacks.RetryDelay(1, Schedule, jitter: 0.5));
        Assert.Equal(TimeSpan.FromMinutes(5), Callbacks.RetryDelay(2, Schedule, jitter: 1));
        Assert.Equal(TimeSpan.Zero, Callbacks.RetryDelay(2, Schedule, jitter: 0));
        Assert.Null(Callbacks.RetryDelay(3, Schedule, jitter: 0.5));
    }

    [Fact]
    public void A_2xx_delivers_a_410_abandons_and_any_other_answer_is_tried_again_while_retries_are_left()
    {
        var retryAt = Now.AddSeconds(3);
        Assert.IsType<WebhookDelivered>(Callbacks.Outcome(JobId, "msg", 4, 1, 204, null, retryAt, Now));
        Assert.IsType<WebhookAbandoned>(Callbacks.Outcome(JobId, "msg", 4, 1, 410, null, retryAt, Now));
        var attempted = Assert.IsType<WebhookAttempted>(Callbacks.Outcome(JobId, "msg", 4, 1, null, "no answer within 15 s", retryAt, Now));
        Assert.Equal((retryAt, "no answer within 15 s", (int?)null), (attempted.RetryAt, attempted.Error, attempted.StatusCode));
        var last = Assert.IsType<WebhookAbandoned>(Callbacks.Outcome(JobId, "msg", 4, 9, 500, null, retryAt: null, Now));
        Assert.Contains("500", last.Reason);
    }

    [Fact]
    public void Callbacks_are_about_the_jobs_own_events_never_about_their_own_records()
    {
        Assert.Equal("completed", Callbacks.NameOf(new JobCompleted(JobId, default, "application/json", Now)));
        Assert.Equal("retrying", Callbacks.NameOf(new JobAttemptFailed(JobId, 1, new JobError("e", "m"), Now, Now)));
        Assert.Null(Callbacks.NameOf(new WebhookDelivered(JobId, "msg", 4, 1, 200, Now)));
        Assert.True(Callbacks.IsRecord(new WebhookDelivered(JobId, "msg", 4, 1, 200, Now)));
    }
}
