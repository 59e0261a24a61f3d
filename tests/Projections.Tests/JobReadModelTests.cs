using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Projections.Rebuilds;
using EventSourced.TestSupport;
using Marten;
using Npgsql;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Projections.Tests;

public sealed class JobReadModelTests(JobsDatabase db) : IClassFixture<JobsDatabase>
{
    private static readonly JsonElement Result = JsonDocument.Parse("""{"output":"f.mp4"}""").RootElement;

    [Fact]
    public async Task The_status_follows_every_event_in_the_appending_transaction()
    {
        var id = await db.Submit();
        Assert.Equal(JobStatus.Queued, (await db.Queries.Status(id, Tenants.Default, default))!.State.Status);

        await db.Execute(id, new StartJob("node-a"));
        await db.Execute(id, job => new ReportProgress(job.Attempt, 30, "a third"));
        var running = (await db.Queries.Status(id, Tenants.Default, default))!;
        Assert.Equal((JobStatus.Processing, 30, "a third", 3L), (running.State.Status, running.State.Progress, running.Message, running.Version));
        Assert.Equal(running.LastSeq, await db.Scalar<long>("SELECT max(seq_id) FROM jobs.mt_events WHERE stream_id = $1", id));

        await db.Execute(id, job => new CompleteJob(job.Attempt, Result, "application/json"));
        Assert.Equal(JobStatus.Completed, (await db.Queries.Status(id, Tenants.Default, default))!.State.Status);
        var result = (await db.Queries.Result(id, Tenants.Default, default))!;
        Assert.Equal(("application/json", "f.mp4"), (result.ContentType, result.Body.GetProperty("output").GetString()));
    }

    [Fact]
    public async Task A_job_and_its_result_are_invisible_to_another_tenant()
    {
        var id = await db.Submit(tenant: "acme");
        await db.Execute(id, new StartJob("node-a"), "acme");
        await db.Execute(id, job => new CompleteJob(job.Attempt, Result, "application/json"), "acme");

        Assert.NotNull(await db.Queries.Status(id, "acme", default));
        Assert.NotNull(await db.Queries.Result(id, "acme", default));
        Assert.Null(await db.Queries.Status(id, "globex", default));
        Assert.Null(await db.Queries.Result(id, "globex", default));
    }

    [Fact]
    public async Task Concurrent_status_lookups_each_answer_for_their_own_job_and_tenant()
    {
        var jobs = new List<(Guid Id, string Tenant)>();
        for (var i = 0; i < 20; i++)
        {
            var tenant = i % 2 == 0 ? "acme" : "globex";
            jobs.Add((await db.Submit(tenant: tenant), tenant));
        }

        var lookups = Enumerable.Range(0, 200).Select(async n =>
        {
            var (id, tenant) = jobs[n % jobs.Count];
            var asking = n % 3 == 0 ? (tenant == "acme" ? "globex" : "acme") : tenant;
            return (id, tenant, asking, view: await db.Queries.Status(id, asking, default));
        });

        foreach (var (id, tenant, asking, view) in await Task.WhenAll(lookups))
        {
            if (asking == tenant)
                Assert.Equal((id, tenant), (view!.Id, view.TenantId));
            else
                Assert.Null(view);
        }
    }

    [Fact]
    public async Task A_text_result_keeps_its_content_type_and_text()
    {
        var id = await db.Submit("report");
        await db.Execute(id, new StartJob("node-a"));
        await db.Execute(id, job => new CompleteJob(job.Attempt, JsonSerializer.SerializeToElement("a,b\n1,2\n"), "text/csv"));

        var result = (await db.Queries.Result(id, Tenants.Default, default))!;
        Assert.Equal(("text/csv", "a,b\n1,2\n"), (result.ContentType, result.Body.GetString()));
    }

    [Fact]
    public async Task Dead_letters_are_a_tenants_failed_jobs_newest_first_a_page_at_a_time()
    {
        var failed = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var id = await db.Submit(tenant: "pager", maxAttempts: 1);
            await db.Execute(id, new StartJob("node-a"), "pager");
            await db.Execute(id, job => new FailAttempt(job.Attempt, "boom", $"failure {i}", 0.5), "pager");
            failed.Add(id);
        }
        await db.Submit(tenant: "pager");

        var first = await db.Queries.DeadLetters("pager", 3, null, default);
        var second = await db.Queries.DeadLetters("pager", 3, (first[^1].FinishedAt!.Value, first[^1].Id), default);

        Assert.Equal(Enumerable.Reverse(failed), first.Concat(second).Select(v => v.Id));
        Assert.Empty(await db.Queries.DeadLetters("another-tenant", 3, null, default));
    }

    [Fact]
    public async Task Without_its_document_a_jobs_status_is_folded_from_its_events()
    {
        var id = await db.Submit(tenant: "acme");
        await db.Execute(id, new StartJob("node-a"), "acme");
        var kept = await db.Queries.Status(id, "acme", default);
        await db.Execute("DELETE FROM jobs.mt_doc_job_status WHERE id = $1", id);

        var folded = await db.Queries.Status(id, "acme", default);

        Assert.Equal(Json(kept), Json(folded));
        Assert.Null(await db.Queries.Status(id, "globex", default));
        Assert.Null(await db.Queries.Status(Guid.NewGuid(), "acme", default));
    }

    [Fact]
    public async Task A_rebuild_replaces_damaged_documents_with_the_fold_of_the_events_while_appends_go_on()
    {
        var jobs = new List<(Guid Id, string Tenant)>();
        for (var i = 0; i < 24; i++)
        {
            var tenant = i % 3 == 0 ? "acme" : Tenants.Default;
            var id = await db.Submit(i % 2 == 0 ? "transcode" : "report", tenant);
            jobs.Add((id, tenant));
            if (i % 4 == 0)
                continue;
            await db.Execute(id, new StartJob("node-a"), tenant);
            await db.Execute(id, job => new ReportProgress(job.Attempt, i * 4, $"step {i}"), tenant);
            await db.Execute(id, job => (i % 4) switch
            {
                1 => new CompleteJob(job.Attempt, Result, "application/json"),
                2 => new FailAttempt(job.Attempt, "boom", "It broke.", 0.5),
                _ => new CancelJob("not needed"),
            }, tenant);
        }
        var running = await db.Submit();
        await db.Execute(running, new StartJob("node-a"));
        jobs.Add((running, Tenants.Default));
        await db.Execute("UPDATE jobs.mt_doc_job_status SET data = jsonb_set(data, '{message}', '\"damaged\"')");
        await db.Execute("DELETE FROM jobs.mt_doc_job_results");
        var indexes = await Indexes();

        var rebuilding = Rebuild();
        // A runner keeps reporting progress while the rebuild runs: the live table takes its appends, and the copy
        // must have them too when it takes over.
        for (var percent = 1; !rebuilding.IsCompleted; percent++)
        {
            await db.Execute(running, job => new ReportProgress(job.Attempt, percent % 100, null));
            // The live read model keeps serving throughout.
            Assert.NotNull(await db.Queries.Status(jobs[0].Id, jobs[0].Tenant, default));
        }
        await rebuilding;

        await using var session = db.Store.QuerySession();
        foreach (var (id, tenant) in jobs)
        {
            await using var tenantSession = db.Store.QuerySession(tenant);
            var folded = await tenantSession.Events.AggregateStreamAsync<JobStatusView>(id);
            Assert.Equal(Json(folded), Json(await tenantSession.LoadAsync<JobStatusView>(id)));
        }
        var ids = jobs.Select(j => j.Id).ToArray();
        Assert.Equal(6, await session.Query<JobResultView>().Where(v => v.AnyTenant() && v.Id.IsOneOf(ids)).CountAsync());
        // The copies were filled without their secondary indexes, made again before the swap: the new tables have every one.
        Assert.Equal(indexes, await Indexes());
    }

    /// <summary>The read models' indexes, each as PostgreSQL would make it again.</summary>
    private Task<string> Indexes() => db.Scalar<string>("""
        SELECT string_agg(indexdef, E'\n' ORDER BY indexdef) FROM pg_indexes
        WHERE schemaname = 'jobs' AND tablename IN ('mt_doc_job_status', 'mt_doc_job_results', 'job_stats_jobs')
        """);

    [Fact]
    public async Task A_verification_finds_a_damaged_row_and_the_missing_one_and_passes_after_a_rebuild()
    {
        var damaged = await db.Submit();
        var lost = await db.Submit(tenant: "acme");
        await db.Execute("UPDATE jobs.mt_doc_job_status SET data = jsonb_set(data, '{message}', '\"damaged\"') WHERE id = $1", damaged);
        await db.Execute("DELETE FROM jobs.mt_doc_job_status WHERE id = $1", lost);

        await using (var build = await ShadowBuild.Create(db.Store, db.DataSource, new FeedHorizon(db.DataSource, TimeProvider.System), "jobs_verify", [JobStatusProjection.ProjectionName], default))
        {
            await build.Build(new Progress<BuildProgress>(), default);
            var (_, _, differences) = await build.Compare(JobStatusProjection.ProjectionName, 10, default);
            Assert.Equal([(damaged, true), (lost, false)], differences.OrderBy(d => d.Id == lost).Select(d => (d.Id, d.LiveMd5 is not null)));
        }

        await Rebuild();

        await using var again = await ShadowBuild.Create(db.Store, db.DataSource, new FeedHorizon(db.DataSource, TimeProvider.System), "jobs_verify", [JobStatusProjection.ProjectionName], default);
        await again.Build(new Progress<BuildProgress>(), default);
        Assert.Empty((await again.Compare(JobStatusProjection.ProjectionName, 10, default)).Differences);
    }

    [Fact]
    public async Task Failures_stored_in_the_earlier_shape_read_in_todays_and_rebuild_the_same_status()
    {
        var id = await db.Submit(maxAttempts: 2);
        await db.Execute(id, new StartJob("node-a"));
        await db.Execute(id, job => new FailAttempt(job.Attempt, "timeout", "Took too long.", 0));
        await db.Execute(id, new StartJob("node-a"));
        await db.Execute(id, job => new FailAttempt(job.Attempt, "boom", "It broke.", 0, Retryable: false));
        // As the service stored failures until 2026-11-25: the error's code and message side by side.
        await db.Execute("""
            UPDATE jobs.mt_events SET data = data - 'error' || jsonb_build_object('errorCode', data -> 'error' ->> 'code', 'errorMessage', data -> 'error' ->> 'message')
            WHERE stream_id = $1 AND type IN ('job.attempt_failed', 'job.failed')
            """, id);
        Assert.Equal(2, await db.Scalar<long>("SELECT count(*) FROM jobs.mt_events WHERE stream_id = $1 AND data ? 'errorCode' AND NOT data ? 'error'", id));

        var events = await db.Events(id);

        Assert.Equal(new JobError("timeout", "Took too long."), events.OfType<JobEvent.JobAttemptFailed>().Single().Error);
        Assert.Equal(new JobError("boom", "It broke."), events.OfType<JobEvent.JobFailed>().Single().Error);
        await db.Execute("DELETE FROM jobs.mt_doc_job_status WHERE id = $1", id);
        await Rebuild();
        var status = (await db.Queries.Status(id, Tenants.Default, default))!;
        Assert.Equal((JobStatus.Failed, new JobError("boom", "It broke.")), (status.State.Status, status.Error));
    }

    [Fact]
    public async Task A_swap_that_gives_up_waiting_and_tries_again_still_has_the_jobs_that_moved_just_before_it()
    {
        var id = await db.Submit();
        await using var build = await ShadowBuild.Create(db.Store, db.DataSource, new FeedHorizon(db.DataSource, TimeProvider.System), "jobs_rebuild", JobReadModels.Names, default);
        await build.Prepare(new Progress<BuildProgress>(), default);
        await db.Execute(id, new StartJob("node-a"));

        // A reader of the status table (a claim, a query) that outlasts the swap's lock_timeout (2 s): the first attempt
        // folds the start, gives up and rolls back; the next one must fold it again.
        await using var reader = await db.DataSource.OpenConnectionAsync();
        await using var reading = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM jobs.mt_doc_job_status", reader, reading))
            await read.ExecuteScalarAsync();
        var swapping = build.TakeOver(default);
        await Task.Delay(TimeSpan.FromSeconds(3));
        await reading.CommitAsync();
        await swapping.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(JobStatus.Processing, (await db.Queries.Status(id, Tenants.Default, default))!.State.Status);
    }

    [Fact]
    public async Task A_job_archived_during_a_rebuild_waits_for_its_swap_and_then_leaves_the_new_tables()
    {
        var id = await db.Submit();
        await db.Execute(id, new CancelJob("done with it"));
        var job = (await db.Queries.Status(id, Tenants.Default, default))!;

        Task archiving;
        await using (var build = await ShadowBuild.Create(db.Store, db.DataSource, new FeedHorizon(db.DataSource, TimeProvider.System), "jobs_rebuild", JobReadModels.Names, default))
        {
            await build.Prepare(new Progress<BuildProgress>(), default);
            archiving = db.Streams.Archive([job], default);
            // Archiving waits for the build, which would otherwise swap the job's rows back in.
            await Eventually.Get(() => db.Scalar<long>("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                waiting => waiting == 1, "archiving to wait for the build's lock");
            Assert.False(archiving.IsCompleted);
            await build.TakeOver(default);
            Assert.NotNull(await db.Queries.Status(id, Tenants.Default, default));
        }

        await archiving.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(await db.Queries.Status(id, Tenants.Default, default));
    }

    private async Task Rebuild()
    {
        await using var build = await ShadowBuild.Create(db.Store, db.DataSource, new FeedHorizon(db.DataSource, TimeProvider.System), "jobs_rebuild", JobReadModels.Names, default);
        await build.Prepare(new Progress<BuildProgress>(), default);
        await build.TakeOver(default);
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value);
}
