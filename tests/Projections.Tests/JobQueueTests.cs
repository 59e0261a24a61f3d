using System.Collections.Concurrent;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Tests;

public sealed class JobQueueTests(JobsDatabase db) : IClassFixture<JobsDatabase>
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private JobQueue Queue => new(db.Store, TimeProvider.System);
    private JobLeases Leases => new(db.DataSource);

    [Fact]
    public async Task Runners_racing_for_due_jobs_start_each_one_exactly_once()
    {
        var ids = new HashSet<Guid>();
        for (var i = 0; i < 40; i++)
            ids.Add(await db.Submit("race"));

        var claimed = new ConcurrentBag<(Guid Id, string Worker)>();
        await Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            while (true)
            {
                var batch = await Queue.Claim(3, ["race"], $"worker-{w}", Lease, default);
                if (batch.Count == 0)
                    return;
                foreach (var job in batch)
                    claimed.Add((job.Submitted.JobId, $"worker-{w}"));
            }
        })));

        Assert.Equal(ids.Order(), claimed.Select(c => c.Id).Order());
        foreach (var id in ids)
        {
            var started = (await db.Store.ReadStream(id)).Select(e => e.Data).OfType<JobStarted>().ToList();
            Assert.Equal(claimed.Single(c => c.Id == id).Worker, Assert.Single(started).Worker);
        }
    }

    [Fact]
    public async Task A_claim_takes_only_queued_jobs_of_the_types_asked_for_and_leases_each()
    {
        var wanted = await db.Submit("wanted");
        var other = await db.Submit("other");
        var cancelled = await db.Submit("wanted");
        await db.Execute(cancelled, new JobCommand.CancelJob(null));

        var claimed = await Queue.Claim(10, ["wanted"], "w", Lease, default);

        var job = Assert.Single(claimed);
        Assert.Equal(wanted, job.Submitted.JobId);
        Assert.Equal((JobStatus.Processing, 1, 2L), (job.State.Status, job.State.Attempt, job.Version));
        Assert.Equal((LeaseCheck.Held, 1, "w"), await Leases.Check(wanted, job.Lease.Token, default));
        Assert.Equal(LeaseCheck.NotHeld, (await Leases.Check(wanted, Guid.NewGuid(), default)).Check);
        Assert.Equal(JobStatus.Queued, (await new JobQueries(db.DataSource).Status(other, "default", default))!.Status);
    }

    [Fact]
    public async Task An_expired_lease_becomes_a_failed_attempt_and_the_job_is_taken_again_as_attempt_two()
    {
        var id = await db.Submit("expiring");
        var first = Assert.Single(await Queue.Claim(1, ["expiring"], "dead-node", TimeSpan.FromMilliseconds(1), default));
        await Task.Delay(20);
        Assert.Equal((LeaseCheck.Expired, 1, "dead-node"), await Leases.Check(id, first.Lease.Token, default));

        var expired = await Eventually.Get(() => Queue.ExpireLeases(10, _ => JobsDatabase.QuickBackoff, "sweeper", default), n => n > 0, "the sweep");

        Assert.Equal(1, expired);
        var failed = (await db.Store.ReadStream(id)).Select(e => e.Data).OfType<JobAttemptFailed>().Single();
        Assert.Equal((1, "lease_expired"), (failed.Attempt, failed.ErrorCode));
        Assert.Equal(LeaseCheck.NotHeld, (await Leases.Check(id, first.Lease.Token, default)).Check);

        var second = await Eventually.Get(() => Queue.Claim(1, ["expiring"], "live-node", Lease, default), c => c.Count == 1, "the retry to be due");
        Assert.Equal(2, second[0].State.Attempt);
        Assert.Null(await Leases.Renew(id, first.Lease.Token, Lease, default));
    }

    [Fact]
    public async Task A_running_job_whose_lease_was_lost_is_retried_rather_than_stranded()
    {
        var id = await db.Submit("orphan");
        Assert.Single(await Queue.Claim(1, ["orphan"], "node", Lease, default));
        await db.Execute("DELETE FROM job_leases WHERE job_id = $1", id);

        Assert.Equal(1, await Queue.ExpireLeases(100, _ => JobsDatabase.QuickBackoff, "sweeper", default));

        Assert.Equal("lease_expired", (await db.Store.ReadStream(id)).Select(e => e.Data).OfType<JobAttemptFailed>().Single().ErrorCode);
        var retry = await Eventually.Get(() => Queue.Claim(1, ["orphan"], "node", Lease, default), c => c.Count == 1, "the retry to be due");
        Assert.Equal(2, retry[0].State.Attempt);
    }

    [Fact]
    public async Task A_renewal_moves_the_expiry_on_and_the_sweep_leaves_a_live_lease_alone()
    {
        var id = await db.Submit("renewed");
        var job = Assert.Single(await Queue.Claim(1, ["renewed"], "node", TimeSpan.FromMinutes(1), default));

        var renewed = await Leases.Renew(id, job.Lease.Token, TimeSpan.FromMinutes(5), default);

        Assert.InRange(renewed!.Value.Lease.ExpiresAt - job.Lease.ExpiresAt, TimeSpan.FromMinutes(3.5), TimeSpan.FromMinutes(4.5));
        await Queue.ExpireLeases(100, _ => JobsDatabase.QuickBackoff, "sweeper", default);
        Assert.Equal(JobStatus.Processing, (await new JobQueries(db.DataSource).Status(id, "default", default))!.Status);
        Assert.Equal((LeaseCheck.Held, 1, "node"), await Leases.Check(id, job.Lease.Token, default));
    }

    [Fact]
    public async Task Dead_letters_page_newest_first()
    {
        var tenant = "dead-" + Guid.NewGuid().ToString("N")[..8];
        var failed = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var id = await db.Submit("doomed", tenant, maxAttempts: 1);
            await db.Execute(id, new JobCommand.StartJob("node"));
            await db.Execute(id, a => new JobCommand.FailAttempt(a, "boom", $"Failure {i}.", JobsDatabase.QuickBackoff, 0));
            failed.Add(id);
        }
        await db.Submit("doomed", tenant);

        var queries = new JobQueries(db.DataSource);
        var first = await queries.DeadLetters(tenant, 3, null, default);
        var last = first[^1];
        var second = await queries.DeadLetters(tenant, 3, (last.CompletedAt!.Value, last.Id), default);

        Assert.Equal(Enumerable.Reverse(failed), first.Concat(second).Select(r => r.Id));
        Assert.All(first.Concat(second), r => Assert.Equal(JobStatus.Failed, r.Status));
    }
}
