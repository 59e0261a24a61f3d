using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Projections.Rebuilds;
using JasperFx;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Npgsql;
using Wolverine;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventSourced.Scheduling;

/// <summary>A job as a writer knows it: enough to decide on it and to append after it.</summary>
public sealed record JobAt(Guid Id, string TenantId, Job State, long Version, string CorrelationId)
{
    public static JobAt Of(JobStatusView view) => new(view.Id, view.TenantId, view.State, view.Version, Job.CorrelationOf(view.Id, view.CorrelationId));
}

/// <summary>What a write did: the job after it, the events it appended (none when the decision was to change nothing), and the last one's global sequence number (0 when none).</summary>
public sealed record JobWritten(JobAt Job, IReadOnlyList<JobEvent> Events, long LastSeq);

/// <summary>A message for the outbox, due at <paramref name="At"/>: stored in the transaction of an append, sent only once it commits.</summary>
public sealed record ScheduledMessage(object Message, DateTimeOffset At, string TenantId);

/// <summary>A job's version named by If-Match is not the job's: nothing was appended.</summary>
public sealed class VersionMismatch(Guid jobId, long actual)
    : Exception($"Job {jobId} is at version {actual}, not the one If-Match named.")
{
    public long Actual { get; } = actual;
}

/// <summary>
/// The job exists (it has events) but its status document does not: the read model is damaged (a row lost), until an
/// operator rebuilds it. Commands wait for it rather than deciding on a job they cannot see.
/// </summary>
public sealed class ReadModelRebuilding(Guid jobId)
    : Exception($"Job {jobId} exists, but its status is being rebuilt. Nothing was changed; try again shortly.");

/// <summary>
/// The one write port for job streams: every append of a job's events (submissions, claims, runners' and workers' reports,
/// lease sweeps and expiries, suspensions, cancellations, redrives, provider webhooks, callback records) and every
/// archiving goes through here, and nothing else in the service touches Marten's event-append API (a test checks the IL).
/// It owns what each writer used to have to remember:
/// <list type="bullet">
/// <item>deciding: the pure <see cref="JobDecider"/> decides on the job's state, at the version the append then expects;</item>
/// <item>metadata: the job's correlation id on every event, with the caller's causation id and actor;</item>
/// <item>the transaction is open before Marten numbers the events (<see cref="FeedHorizon.OpenTransactionBeforeNumbering"/>, done by
///   group commit, or the caller's own transaction for claims and sweeps), so the global feed never passes an append in flight;</item>
/// <item>one conflict policy: a stream that moved is read again and the command decided again, up to <see cref="Conflicts.MaxRetries"/>
///   times, then a <see cref="ConcurrencyException"/> (409); a refusal counts only when decided on a fresh read;</item>
/// <item>notifications and callbacks come with every Marten session (a listener, and the status projection's side effects through
///   Wolverine's outbox); messages of our own (a callback's next attempt) go to the outbox in the append's transaction.</item>
/// </list>
/// Appends share commits through <see cref="GroupCommit"/>: each caller gets its own outcome, and a database that is away fails the
/// whole group at once (retrying, if at all, is the caller's: a runner waits for the database up to its lease).
/// </summary>
public sealed class JobStreams
{
    private readonly IDocumentStore _store;
    private readonly TimeProvider _clock;
    private readonly GroupCommit _commits;

    /// <param name="runtime">Wolverine, for the messages appends hand to its outbox; none in a process that sends no such messages.</param>
    public JobStreams(IDocumentStore store, TimeProvider clock, IWolverineRuntime? runtime = null)
    {
        (_store, _clock) = (store, clock);
        _commits = new GroupCommit(store, (session, messages) => HandToOutbox(runtime, session, messages));
    }

    /// <summary>
    /// Submits a job: starts its stream. Throws Marten's <see cref="Marten.Exceptions.ExistingStreamIdCollisionException"/> when the
    /// job's id is taken (its Idempotency-Key was used before).
    /// </summary>
    public async Task<JobWritten> Submit(JobCommand.SubmitJob command, string tenantId, EventMetadata metadata, CancellationToken ct)
    {
        var events = JobDecider.Decide(command, null, _clock.GetUtcNow());
        var job = new JobAt(command.JobId, tenantId, Job.Fold(events)!, 0, Job.CorrelationOf(command.JobId, command.CorrelationId));
        var appended = await _commits.Append(Append(job, events, metadata), ct);
        return new JobWritten(job with { Version = appended.Version }, events, appended.LastSeq);
    }

    /// <summary>
    /// Decides <paramref name="command"/> on the job as it now stands and appends what it decides. With
    /// <paramref name="ifMatch"/>, only while the job is at that version (<see cref="VersionMismatch"/> otherwise).
    /// With <paramref name="endingLease"/>, the command ends the attempt that token holds: the lease is given up in the append's transaction.
    /// </summary>
    public async Task<JobWritten> Execute(
        Guid jobId, string tenantId, JobCommand command, EventMetadata metadata, CancellationToken ct, long? ifMatch = null, Guid? endingLease = null) =>
        await Decide(await Read(jobId, tenantId, ct), fresh: true, [command], metadata, ifMatch, endingLease, ct);

    /// <summary>
    /// Decides <paramref name="commands"/> in turn on the job as the caller last saw it (a runner, after its own appends), without a
    /// read, and appends all their events at once; when the job moved meanwhile, or the state seen refuses them, it reads the job and
    /// decides again. With <paramref name="endingLease"/>, as above.
    /// </summary>
    public Task<JobWritten> Execute(JobAt seen, IReadOnlyList<JobCommand> commands, EventMetadata metadata, CancellationToken ct, Guid? endingLease = null) =>
        Decide(seen, fresh: false, commands, metadata, ifMatch: null, endingLease, ct);

    /// <summary>
    /// Records an attempt to deliver a callback about <paramref name="job"/> (webhook.attempted, .delivered or .abandoned) after
    /// whatever the stream holds by then: a record never takes the place of a change to the job. <paramref name="next"/>, the
    /// next attempt, is handed to the outbox in the same transaction: the record and the retry commit together or not at all.
    /// </summary>
    public async Task RecordCallback(JobStatusView job, JobEvent record, EventMetadata metadata, ScheduledMessage? next, CancellationToken ct)
    {
        var append = Append(JobAt.Of(job), [record], metadata) with { ExpectedVersion = null };
        append = append with { Outgoing = next is null ? [] : [next] };
        for (var conflicts = 0; ; conflicts++)
        {
            try
            {
                await _commits.Append(append, ct);
                return;
            }
            catch (ConcurrencyException)
            {
                // Another append took the version this one was numbered for: it goes after that one, and is never given up, or
                // the next attempt would go with it. Callbacks of one job race each other (16 run at once), so each waits a
                // random moment before trying again rather than all at once.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 5 * Math.Min(conflicts + 1, 20))), _clock, ct);
            }
        }
    }

    /// <summary>
    /// Archives the jobs' streams (Marten's archiving: out of the auditors' default view and of every replay, not deleted) and
    /// removes their read-model rows, so the live read models equal a rebuild. Each tenant's jobs in one transaction.
    /// </summary>
    public async Task Archive(IEnumerable<JobStatusView> jobs, CancellationToken ct)
    {
        foreach (var tenant in jobs.GroupBy(v => v.TenantId))
        {
            await using var session = _store.LightweightSession(tenant.Key);
            foreach (var job in tenant)
            {
                session.Events.ArchiveStream(job.Id);
                session.Delete<JobStatusView>(job.Id);
                session.Delete<JobResultView>(job.Id);
            }
            // Archiving numbers no events; opened first all the same, as every write here is.
            await FeedHorizon.OpenTransactionBeforeNumbering(session, ct);
            await ArchivingLock.Share((NpgsqlConnection)session.Connection!, ct);
            await session.SaveChangesAsync(ct);
        }
    }

    /// <summary>
    /// Writes in the caller's transaction (claims and sweeps, which lock stream rows with SKIP LOCKED and take leases in it):
    /// decisions are appended through a Marten session enlisted in it, which commits it, so the outbox sends only after the commit.
    /// </summary>
    public Transaction In(NpgsqlTransaction transaction) =>
        new(this, _store.LightweightSession(SessionOptions.ForTransaction(transaction, shouldAutoCommit: true)), transaction);

    private async Task<JobWritten> Decide(
        JobAt job, bool fresh, IReadOnlyList<JobCommand> commands, EventMetadata metadata, long? ifMatch, Guid? endingLease, CancellationToken ct)
    {
        for (var conflicts = 0; ;)
        {
            if (ifMatch is { } expected && expected != job.Version)
                throw new VersionMismatch(job.Id, job.Version);
            IReadOnlyList<JobEvent> events;
            try
            {
                events = JobDecider.Decide(commands, job.State, _clock.GetUtcNow());
            }
            catch (JobRuleViolation) when (!fresh)
            {
                // The state seen may be stale (someone asked to cancel meanwhile): only a fresh read may refuse.
                (job, fresh) = (await Read(job.Id, job.TenantId, ct), true);
                continue;
            }
            QueuedSql[] givingUp = endingLease is { } token ? [JobLeases.GiveUp(job.Id, token)] : [];
            if (events.Count == 0)
            {
                await RunAlone(givingUp, ct);
                return new JobWritten(job, events, 0);
            }
            try
            {
                var appended = await _commits.Append(Append(job, events, metadata) with { AlsoRun = givingUp }, ct);
                return new JobWritten(job with { State = events.Aggregate(job.State, Job.Evolve), Version = appended.Version }, events, appended.LastSeq);
            }
            catch (ConcurrencyException) when (conflicts++ < Conflicts.MaxRetries)
            {
                // Someone else appended first: decide again on the job as it now is.
                (job, fresh) = (await Read(job.Id, job.TenantId, ct), true);
            }
        }
    }

    /// <summary>Runs statements that had an append to go with, when the decision was to append nothing.</summary>
    private async Task RunAlone(QueuedSql[] statements, CancellationToken ct)
    {
        if (statements.Length == 0)
            return;
        await using var session = _store.LightweightSession();
        foreach (var statement in statements)
            session.QueueSqlCommand(statement.Sql, statement.Parameters);
        await session.SaveChangesAsync(ct);
    }

    private async Task<JobAt> Read(Guid jobId, string tenantId, CancellationToken ct)
    {
        await using var session = _store.QuerySession(tenantId);
        if (await session.LoadAsync<JobStatusView>(jobId, ct) is { } view)
            return JobAt.Of(view);
        throw await session.Events.FetchStreamStateAsync(jobId, ct) is null ? JobRuleViolation.NotFound(jobId) : new ReadModelRebuilding(jobId);
    }

    /// <summary>The job's events at the version it is at, with its correlation id and the caller's causation id and actor.</summary>
    private static StreamAppend Append(JobAt job, IReadOnlyList<JobEvent> events, EventMetadata metadata) =>
        new(job.Id, job.TenantId, job.Version, [.. events], metadata with { CorrelationId = job.CorrelationId }, typeof(Job));

    private static async ValueTask HandToOutbox(IWolverineRuntime? runtime, IDocumentSession session, IReadOnlyList<object> messages)
    {
        var outbox = new MartenOutbox(runtime ?? throw new InvalidOperationException("Messages to send need Wolverine's runtime."), session);
        foreach (var message in messages.Cast<ScheduledMessage>())
            await outbox.ScheduleAsync(message.Message, message.At, new DeliveryOptions { TenantId = message.TenantId });
    }

    /// <summary>Decisions appended in a caller's transaction, committed together by <see cref="Commit"/>.</summary>
    public sealed class Transaction(JobStreams streams, IDocumentSession session, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        private bool _appended;

        /// <summary>Reads in the transaction (under its locks).</summary>
        public IQuerySession Reads => session;

        /// <summary>Decides <paramref name="command"/> on <paramref name="job"/> (read under the caller's lock) and appends its events, to commit with the rest.</summary>
        public Decision Decide(JobAt job, JobCommand command, EventMetadata metadata)
        {
            var events = JobDecider.Decide(command, job.State, streams._clock.GetUtcNow());
            var action = events.Count == 0 ? null : Append(job, events, metadata).AddTo(session);
            _appended |= action is not null;
            return new Decision(job with { State = events.Aggregate(job.State, Job.Evolve) }, events, action);
        }

        /// <summary>Commits: Marten's commit when anything was appended (the outbox then sends), the bare transaction otherwise.</summary>
        public async Task Commit(CancellationToken ct)
        {
            if (_appended)
                await session.SaveChangesAsync(ct);
            else
                await transaction.CommitAsync(CancellationToken.None);
        }

        public ValueTask DisposeAsync() => session.DisposeAsync();
    }

    /// <summary>A decision appended in a <see cref="Transaction"/>; <see cref="Written"/> once it has committed.</summary>
    public sealed class Decision(JobAt job, IReadOnlyList<JobEvent> events, StreamAction? action)
    {
        public Guid JobId => job.Id;

        public string TenantId => job.TenantId;

        /// <summary>The job's state after the decision.</summary>
        public Job State => job.State;

        public JobWritten Written => action is null
            ? new JobWritten(job, events, 0)
            : new JobWritten(job with { Version = action.Events[^1].Version }, events, action.Events[^1].Sequence);
    }
}
