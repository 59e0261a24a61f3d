using JasperFx;
using Marten;
using Marten.Services;
using Npgsql;
using EventSourced.TestSupport;
using ExistingStreamIdCollisionException = Marten.Exceptions.ExistingStreamIdCollisionException;

namespace EventSourced.EventStore.Tests;

public sealed class GroupCommitTests(StoreDatabase db) : IClassFixture<StoreDatabase>
{
    [Fact]
    public async Task Appends_that_arrive_together_share_commits_and_each_caller_gets_its_own_version_and_sequence()
    {
        var sessions = new SessionCounter();
        using var store = db.CreateStore(o => o.Logger(sessions));
        var commit = new GroupCommit(store);
        var ids = Enumerable.Range(0, 100).Select(_ => Guid.NewGuid()).ToArray();

        var appended = await Task.WhenAll(ids.Select(id => commit.Append(StoreDatabase.Start(id, "new"))));

        Assert.All(appended, a => Assert.Equal(1, a.Version));
        Assert.Equal(ids.Length, appended.Select(a => a.LastSeq).Distinct().Count());
        Assert.True(sessions.Started < ids.Length, $"{sessions.Started} commits for {ids.Length} appends");
        // What each caller was told is what the store holds.
        var stored = await db.Scalar<long>("SELECT count(*) FROM jobs.mt_events WHERE seq_id = ANY($1) AND version = 1", appended.Select(a => a.LastSeq).ToArray());
        Assert.Equal(ids.Length, stored);
    }

    [Fact]
    public async Task A_stream_id_that_is_taken_fails_only_its_own_caller_and_the_others_are_written()
    {
        var commit = new GroupCommit(db.Store);
        var taken = new[] { Guid.NewGuid(), Guid.NewGuid() };
        foreach (var id in taken)
            await commit.Append(StoreDatabase.Start(id, "first"));
        var fresh = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid()).ToArray();

        var ids = fresh.Concat(taken).ToArray();
        var outcomes = await Outcomes(ids.Select(id => commit.Append(StoreDatabase.Start(id, "again"))));

        var byId = ids.Zip(outcomes).ToDictionary(p => p.First, p => p.Second);
        Assert.All(taken, id => Assert.IsType<ExistingStreamIdCollisionException>(byId[id].Error));
        Assert.All(fresh, id => Assert.Equal(1, byId[id].Appended?.Version));
        Assert.Equal(fresh.Length, await db.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE id = ANY($1)", fresh));
        Assert.Equal(2, await db.Scalar<long>("SELECT count(*) FROM jobs.mt_events WHERE stream_id = ANY($1)", taken));
    }

    [Fact]
    public async Task A_version_that_moved_fails_only_its_own_caller()
    {
        var commit = new GroupCommit(db.Store);
        var streams = Enumerable.Range(0, 40).Select(_ => Guid.NewGuid()).ToArray();
        await Task.WhenAll(streams.Select(id => commit.Append(StoreDatabase.Start(id, "one"))));

        // Every fourth append names a version the stream is not at.
        var outcomes = await Outcomes(streams.Select((id, i) => commit.Append(StoreDatabase.Append(id, i % 4 == 0 ? 7 : 1, "two"))));

        for (var i = 0; i < streams.Length; i++)
        {
            if (i % 4 == 0)
                Assert.IsAssignableFrom<ConcurrencyException>(outcomes[i].Error);
            else
                Assert.Equal(2, outcomes[i].Appended?.Version);
        }
    }

    [Fact]
    public async Task Two_processes_racing_for_one_version_of_a_stream_are_settled_by_the_database()
    {
        // Two stores and two group commits: two processes, whose appends meet only in PostgreSQL.
        using var otherStore = db.CreateStore();
        var here = new GroupCommit(db.Store);
        var there = new GroupCommit(otherStore);
        var id = Guid.NewGuid();
        await here.Append(StoreDatabase.Start(id, "start"));

        for (long version = 1; version <= 30; version++)
        {
            var expected = version;
            var racing = await Outcomes(new[] { here, there }.Select(commit => commit.Append(StoreDatabase.Append(id, expected, "racing"))));

            Assert.Equal(version + 1, Assert.Single(racing, r => r.Appended is not null).Appended!.Version);
            Assert.IsAssignableFrom<ConcurrencyException>(Assert.Single(racing, r => r.Error is not null).Error);
        }
        Assert.Equal(31, await db.Scalar<long>("SELECT count(*) FROM jobs.mt_events WHERE stream_id = $1", id));
    }

    [Fact]
    public async Task A_value_PostgreSQL_refuses_fails_only_the_append_that_carries_it()
    {
        var commit = new GroupCommit(db.Store);
        var good = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid()).ToArray();
        var bad = Guid.NewGuid();

        var outcomes = await Outcomes(good.Select(id => commit.Append(StoreDatabase.Start(id, "fine")))
            .Append(commit.Append(StoreDatabase.Start(bad, "nul \u0000 inside"))));

        Assert.NotNull(outcomes[^1].Error);
        Assert.All(outcomes[..^1], o => Assert.Null(o.Error));
        Assert.Equal(good.Length, await db.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE id = ANY($1)", good));
    }

    [Fact]
    public async Task Appends_sharing_a_commit_each_keep_their_tenant_and_metadata()
    {
        var commit = new GroupCommit(db.Store);
        var (acme, globex) = (Guid.NewGuid(), Guid.NewGuid());

        await Task.WhenAll(
            commit.Append(StoreDatabase.Start(acme, "a", "acme", new EventMetadata("corr-a", "cause-a", "worker-a"))),
            commit.Append(StoreDatabase.Start(globex, "g", "globex", new EventMetadata("corr-g", "cause-g", "worker-g"))));

        await using var session = db.Store.QuerySession();
        var stored = await session.Events.QueryAllRawEvents().Where(e => e.AnyTenant() && (e.StreamId == acme || e.StreamId == globex)).ToListAsync();
        Assert.Equal(
            [(acme, "acme", "corr-a", "cause-a", "worker-a"), (globex, "globex", "corr-g", "cause-g", "worker-g")],
            stored.OrderBy(e => e.TenantId).Select(e => (e.StreamId, e.TenantId, e.CorrelationId, e.CausationId, e.UserName)).ToArray());
    }

    [Fact]
    public async Task While_the_database_is_away_a_group_fails_at_once_rather_than_append_by_append()
    {
        await using var away = new StoreDatabase();
        await away.InitializeAsync();
        var sessions = new SessionCounter();
        using var store = away.CreateStore(o => o.Logger(sessions));
        var commit = new GroupCommit(store);

        // Another transaction starts the same stream and holds it, so the first write waits on the row
        // and the twenty appends after it queue up for the next write together.
        var held = Guid.NewGuid();
        await using var holder = await away.DataSource.OpenConnectionAsync();
        await using var holding = await holder.BeginTransactionAsync();
        await using (var session = away.Store.LightweightSession(SessionOptions.ForTransaction(holding)))
        {
            StoreDatabase.Start(held, "holding").AddTo(session);
            await session.SaveChangesAsync();
        }
        var first = Outcomes([commit.Append(StoreDatabase.Start(held, "waits"))]);
        await Eventually.Get(() => away.Scalar<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"),
            waiting => waiting == 1, "the first write to wait for the row");
        var queued = Outcomes(Enumerable.Range(0, 20).Select(_ => commit.Append(StoreDatabase.Start(Guid.NewGuid(), "queued"))));

        // The database refuses new connections and ends every open one but the holder's, which keeps its row.
        var holderPid = await away.Scalar<int>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'");
        await TestDatabase.ExecuteOnServer($"ALTER DATABASE {away.Name} ALLOW_CONNECTIONS false");
        await TestDatabase.ExecuteOnServer($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{away.Name}' AND pid <> {holderPid}");

        var firstError = Assert.Single(await first).Error!;
        Assert.True(GroupCommit.IsTransient(firstError), firstError.ToString());
        Assert.All(await queued, o => Assert.Equal("55000", Assert.IsType<PostgresException>(o.Error).SqlState));
        // One write for the first append and one for the twenty: not one more for each of them.
        Assert.Equal(2, sessions.Started);
        await holding.RollbackAsync();
        await away.SetConnectionsAllowed(true);
        await away.DisposeAsync();
    }

    /// <summary>Each append's outcome, once all of them have one.</summary>
    private static async Task<(Appended? Appended, Exception? Error)[]> Outcomes(IEnumerable<Task<Appended>> appends) =>
        await Task.WhenAll(appends.Select(async append =>
        {
            try
            {
                return ((Appended?)await append, (Exception?)null);
            }
            catch (Exception e)
            {
                return (null, e);
            }
        }));

    /// <summary>
    /// Counts the writes a group commit tries: each opens one session for the appends' tenant. Marten's
    /// own sessions (the one that writes tombstones over the sequence numbers a failed write reserved)
    /// are for no tenant of ours.
    /// </summary>
    private sealed class SessionCounter : IMartenLogger, IMartenSessionLogger
    {
        public int Started;

        public IMartenSessionLogger StartSession(IQuerySession session)
        {
            if (session.TenantId == Tenants.Default)
                Interlocked.Increment(ref Started);
            return this;
        }

        public void SchemaChange(string sql)
        {
        }

        public void LogSuccess(NpgsqlCommand command)
        {
        }

        public void LogFailure(NpgsqlCommand command, Exception ex)
        {
        }

        public void LogSuccess(NpgsqlBatch batch)
        {
        }

        public void LogFailure(NpgsqlBatch batch, Exception ex)
        {
        }

        public void LogFailure(Exception ex, string message)
        {
        }

        public void RecordSavedChanges(IDocumentSession session, IChangeSet commit)
        {
        }

        public void OnBeforeExecute(NpgsqlCommand command)
        {
        }

        public void OnBeforeExecute(NpgsqlBatch batch)
        {
        }
    }
}
