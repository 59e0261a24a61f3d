using System.Collections.Concurrent;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Projections.Tests;

public sealed class JobQueueTests(JobsDatabase db) : IClassFixture<JobsDatabase>
{
    private JobQueue Queue => new(db.Store, TimeProvider.System);

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
                var batch = await Queue.Claim(3, ["race"], $"worker-{w}", default);
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
    public async Task A_claim_takes_only_queued_jobs_of_the_types_asked_for()
    {
        var wanted = await db.Submit("wanted");
        var other = await db.Submit("other");
        var cancelled = await db.Submit("wanted");
        await db.Execute(cancelled, new JobCommand.CancelJob(null));

        var claimed = await Queue.Claim(10, ["wanted"], "w", default);

        var job = Assert.Single(claimed);
        Assert.Equal(wanted, job.Submitted.JobId);
        Assert.Equal((JobStatus.Processing, 1, 2L), (job.State.Status, job.State.Attempt, job.Version));
        Assert.Equal(JobStatus.Queued, (await new JobQueries(db.DataSource).Status(other, "default", default))!.Status);
    }
}
