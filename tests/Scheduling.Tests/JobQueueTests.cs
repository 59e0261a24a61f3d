using System.Collections.Concurrent;
using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.TestSupport;
using Marten;
using Microsoft.Extensions.Options;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Scheduling.Tests;

public sealed class JobQueueTests(JobsDatabase db) : IClassFixture<JobsDatabase>
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private JobQueue Queue => new(db.Streams, db.DataSource, TimeProvider.System, Options.Create(new SchedulingOptions()));
    private JobLeases Leases => new(db.DataSource);

    [Fact]
    public async Task Runners_racing_for_due_jobs_start_each_one_exactly_once()
    {
        var ids = new HashSet<Guid>();
        for (var i = 0; i < 40; i++)
            ids.Add(await db.Submit("race", i % 2 == 0 ? "acme" : Tenants.Default));

        var claimed = new ConcurrentBag<(Guid Id, string Worker)>();
        await Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            while (true)
            {
                var batch = await Queue.Claim(3, ["race"], null, $"worker-{w}", $"worker-{w}", Lease, default);
                if (batch.Count == 0)
                    return;
                foreach (var job in batch)
                    claimed.Add((job.Submitted.JobId, $"worker-{w}"));
            }
        })));

        Assert.Equal(ids.Order(), claimed.Select(c => c.Id).Order());
        foreach (var id in ids)
        {
            var started = (await Events(id)).OfType<JobStarted>().ToList();
            Assert.Equal(claimed.Single(c => c.Id == id).Worker, Assert.Single(started).Worker);
        }
    }

    [Fact]
    public async Task Tenants_with_due_work_take_turns_so_a_backlog_does_not_hold_up_another_tenants_job()
    {
        for (var i = 0; i < 30; i++)
            await db.Submit("fair", "backlog");
        var waiting = await db.Submit("fair", "small");
        var other = await db.Submit("fair", "other");
        var queue = Queue;

        // One slot frees at a time: each claim takes one job.
        var order = new List<string>();
        for (var i = 0; i < 4; i++)
            order.Add(Assert.Single(await queue.Claim(1, ["fair"], null, "w", "w", Lease, default)).TenantId);
        var batch = await queue.Claim(3, ["fair"], null, "w", "w", Lease, default);

        Assert.Equal(["backlog", "other", "small", "backlog"], order);
        Assert.Equal(3, batch.Count);
        Assert.DoesNotContain(batch, j => j.Submitted.JobId == waiting || j.Submitted.JobId == other);
    }

    [Fact]
    public async Task A_claim_takes_only_queued_jobs_of_the_types_asked_for_and_leases_each_for_its_tenant()
    {
        var wanted = await db.Submit("wanted", "acme");
        var other = await db.Submit("other");
        var cancelled = await db.Submit("wanted");
        await db.Execute(cancelled, new JobCommand.CancelJob(null));

        var claimed = await Queue.Claim(10, ["wanted"], null, "w", "w", Lease, default);

        var job = Assert.Single(claimed);
        Assert.Equal((wanted, "acme"), (job.Submitted.JobId, job.TenantId));
        Assert.Equal((JobStatus.Processing, 1, 2L), (job.State.Status, job.State.Attempt, job.Version));
        Assert.Equal(job.LastSeq, await db.Scalar<long>("SELECT max(seq_id) FROM jobs.mt_events WHERE stream_id = $1", wanted));
        Assert.Equal(new LeaseHolder(LeaseCheck.Held, 1, "w", "acme"), await Leases.Check(wanted, job.Lease.Token, null, default));
        Assert.Equal(LeaseCheck.NotHeld, (await Leases.Check(wanted, Guid.NewGuid(), null, default)).Check);
        Assert.Equal(JobStatus.Queued, (await db.Queries.Status(other, Tenants.Default, default))!.State.Status);
    }

    [Fact]
    public async Task A_claim_for_one_tenant_takes_only_that_tenants_jobs_while_others_are_due()
    {
        // Tenants on both sides of the one asked for, in the order the scan of tenants meets them.
        var before = await db.Submit("one-tenant", "tenant-a");
        HashSet<Guid> mine = [await db.Submit("one-tenant", "tenant-b"), await db.Submit("one-tenant", "tenant-b")];
        var after = await db.Submit("one-tenant", "tenant-c");

        var claimed = await Queue.Claim(10, ["one-tenant"], "tenant-b", "w", "w", Lease, default);
        var none = await Queue.Claim(10, ["one-tenant"], "tenant-0", "w", "w", Lease, default);

        Assert.Equal(mine.Order(), claimed.Select(j => j.Submitted.JobId).Order());
        Assert.All(claimed, j => Assert.Equal("tenant-b", j.TenantId));
        Assert.Empty(none);
        Assert.Equal(JobStatus.Queued, (await db.Queries.Status(before, "tenant-a", default))!.State.Status);
        Assert.Equal(JobStatus.Queued, (await db.Queries.Status(after, "tenant-c", default))!.State.Status);
        Assert.Equal(new[] { before, after }.Order(), (await Queue.Claim(10, ["one-tenant"], null, "w", "w", Lease, default)).Select(j => j.Submitted.JobId).Order());
    }

    [Fact]
    public async Task A_tenant_at_its_cap_gets_no_more_jobs_until_one_finishes_while_other_tenants_are_still_served()
    {
        var queue = Capped(2);
        var busy = new List<Guid>();
        for (var i = 0; i < 5; i++)
            busy.Add(await db.Submit("capped", "busy"));
        await db.Submit("capped-other", "busy");
        var quiet = await db.Submit("capped", "quiet");

        var first = await queue.Claim(10, ["capped"], null, "w", "w", Lease, default);

        // The busy tenant's two oldest, though three more are due; the quiet tenant's too.
        Assert.Equal(busy.Take(2).Order(), first.Where(j => j.TenantId == "busy").Select(j => j.Submitted.JobId).Order());
        Assert.Equal(quiet, Assert.Single(first, j => j.TenantId == "quiet").Submitted.JobId);
        Assert.Equal(2, await Processing("busy"));

        // A tenant at its cap takes no place in a claim: another tenant's job gets it, even the only one.
        var late = await db.Submit("capped", "quiet");
        Assert.Equal(late, Assert.Single(await Capped(2).Claim(1, ["capped", "capped-other"], null, "w", "w", Lease, default)).Submitted.JobId);
        // All types count together, and a claim for the tenant alone is held to it too.
        Assert.Empty(await queue.Claim(10, ["capped", "capped-other"], null, "w", "w", Lease, default));
        Assert.Empty(await queue.Claim(10, ["capped", "capped-other"], "busy", "w", "w", Lease, default));

        await db.Execute(first.First(j => j.TenantId == "busy").Submitted.JobId, Complete, "busy");

        Assert.Equal("busy", Assert.Single(await queue.Claim(10, ["capped", "capped-other"], null, "w", "w", Lease, default)).TenantId);
        Assert.Equal(2, await Processing("busy"));
        Assert.Empty(await queue.Claim(10, ["capped", "capped-other"], null, "w", "w", Lease, default));
    }

    [Fact]
    public async Task Claimers_racing_for_a_capped_tenant_never_start_more_of_its_jobs_than_the_cap()
    {
        const int cap = 3;
        const int rounds = 5;
        string[] tenants = ["race-a", "race-b"];
        // Two types: a claim looks for each type in turn, and claims racing for different types of one tenant each see
        // room for the whole cap until the count under the tenant's lock.
        string[] types = ["capped-race-x", "capped-race-y"];
        foreach (var tenant in tenants)
        {
            foreach (var type in types)
            {
                for (var i = 0; i < rounds * cap; i++)
                    await db.Submit(type, tenant);
            }
        }

        // Rounds of eight claimers at once, each asking for more than the cap; between rounds the running jobs finish.
        for (var round = 0; round < rounds; round++)
        {
            var go = new TaskCompletionSource();
            var claims = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                var queue = Capped(cap);
                await go.Task;
                return await queue.Claim(cap + 1, types, null, $"worker-{w}", $"worker-{w}", Lease, default);
            })).ToList();
            go.SetResult();
            var batches = await Task.WhenAll(claims);

            foreach (var tenant in tenants)
            {
                var claimed = batches.SelectMany(b => b).Where(j => j.TenantId == tenant).ToList();
                Assert.Equal((cap, cap), (claimed.Count, await Processing(tenant)));
                foreach (var job in claimed)
                    await db.Execute(job.Submitted.JobId, Complete, tenant);
            }
        }
    }

    [Fact]
    public async Task An_expired_lease_becomes_a_failed_attempt_and_the_job_is_taken_again_as_attempt_two()
    {
        var id = await db.Submit("expiring");
        var first = Assert.Single(await Queue.Claim(1, ["expiring"], null, "dead-node", "dead-node", TimeSpan.FromMilliseconds(1), default));
        await Eventually.Get(() => Leases.Check(id, first.Lease.Token, null, default), l => l.Check == LeaseCheck.Expired, "the lease to run out");

        var expired = await Eventually.Get(() => Queue.ExpireLeases(10, "sweeper", default), n => n > 0, "the sweep");

        Assert.Equal(1, expired);
        var failed = (await Events(id)).OfType<JobAttemptFailed>().Single();
        Assert.Equal((1, "lease_expired"), (failed.Attempt, failed.Error.Code));
        Assert.Equal(LeaseCheck.NotHeld, (await Leases.Check(id, first.Lease.Token, null, default)).Check);

        var second = await Eventually.Get(() => Queue.Claim(1, ["expiring"], null, "live-node", "live-node", Lease, default), c => c.Count == 1, "the retry to be due");
        Assert.Equal(2, second[0].State.Attempt);
        Assert.Null(await Leases.Renew(id, first.Lease.Token, null, Lease, default));
    }

    [Fact]
    public async Task A_running_job_whose_lease_was_lost_is_retried_rather_than_stranded()
    {
        var id = await db.Submit("orphan");
        Assert.Single(await Queue.Claim(1, ["orphan"], null, "node", "node", Lease, default));
        await db.Execute($"DELETE FROM {JobLeases.TableName} WHERE job_id = $1", id);

        Assert.Equal(1, await Queue.ExpireLeases(100, "sweeper", default));

        Assert.Equal("lease_expired", (await Events(id)).OfType<JobAttemptFailed>().Single().Error.Code);
        var retry = await Eventually.Get(() => Queue.Claim(1, ["orphan"], null, "node", "node", Lease, default), c => c.Count == 1, "the retry to be due");
        Assert.Equal(2, retry[0].State.Attempt);
    }

    [Fact]
    public async Task A_renewal_moves_the_expiry_on_and_the_sweep_leaves_a_live_lease_alone()
    {
        var id = await db.Submit("renewed");
        var job = Assert.Single(await Queue.Claim(1, ["renewed"], null, "node", "node", TimeSpan.FromMinutes(1), default));

        var renewed = await Leases.Renew(id, job.Lease.Token, null, TimeSpan.FromMinutes(5), default);

        Assert.InRange(renewed!.Value.Lease.ExpiresAt - job.Lease.ExpiresAt, TimeSpan.FromMinutes(3.5), TimeSpan.FromMinutes(4.5));
        await Queue.ExpireLeases(100, "sweeper", default);
        Assert.Equal(JobStatus.Processing, (await db.Queries.Status(id, Tenants.Default, default))!.State.Status);
        Assert.Equal(LeaseCheck.Held, (await Leases.Check(id, job.Lease.Token, null, default)).Check);
    }

    [Fact]
    public async Task A_renewal_that_names_no_length_keeps_the_length_of_the_last_claim_or_renewal()
    {
        var id = await db.Submit("long-lease");
        var job = Assert.Single(await Queue.Claim(1, ["long-lease"], null, "node", "node", TimeSpan.FromMinutes(10), default));

        var renewed = await Leases.Renew(id, job.Lease.Token, null, null, default);

        Assert.InRange(renewed!.Value.Lease.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        await Leases.Renew(id, job.Lease.Token, null, TimeSpan.FromMinutes(2), default);
        var again = await Leases.Renew(id, job.Lease.Token, null, null, default);
        Assert.InRange(again!.Value.Lease.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2));
    }

    [Fact]
    public async Task A_renewal_says_when_someone_asked_to_cancel_the_job()
    {
        var id = await db.Submit("cancelled-while-running");
        var job = Assert.Single(await Queue.Claim(1, ["cancelled-while-running"], null, "node", "node", Lease, default));
        Assert.False((await Leases.Renew(id, job.Lease.Token, null, null, default))!.Value.CancellationRequested);

        await db.Execute(id, new JobCommand.CancelJob("changed my mind"));

        Assert.True((await Leases.Renew(id, job.Lease.Token, null, null, default))!.Value.CancellationRequested);
    }

    private JobQueue Capped(int maxRunningPerTenant) =>
        new(db.Streams, db.DataSource, TimeProvider.System, Options.Create(new SchedulingOptions { MaxRunningPerTenant = maxRunningPerTenant }));

    private static JobCommand.CompleteJob Complete(Job job) => new(job.Attempt, JsonDocument.Parse("{}").RootElement, "application/json");

    private Task<long> Processing(string tenant) =>
        db.Scalar<long>($"SELECT count(*) FROM jobs.mt_doc_job_status WHERE tenant_id = $1 AND status = '{JobStatus.Processing}'", tenant);

    private async Task<List<JobEvent>> Events(Guid id)
    {
        await using var session = db.Store.QuerySession();
        return [.. (await session.Events.QueryAllRawEvents().Where(e => e.AnyTenant() && e.StreamId == id).OrderBy(e => e.Version).ToListAsync()).Select(e => (JobEvent)e.Data)];
    }
}
