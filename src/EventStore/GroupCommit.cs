using System.Net.Sockets;
using JasperFx;
using JasperFx.Events;
using Marten;
using ExistingStreamIdCollisionException = Marten.Exceptions.ExistingStreamIdCollisionException;
using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// Events for one stream, appended only if the stream is at <paramref name="ExpectedVersion"/>:
/// 0 means it must not exist yet, and the append starts it as a stream of <paramref name="StreamType"/>;
/// null means after whatever the stream holds when it is written (a record that goes after any change, never instead of one).
/// </summary>
public sealed record StreamAppend(
    Guid StreamId, string TenantId, long? ExpectedVersion, IReadOnlyList<object> Events, EventMetadata Metadata, Type StreamType)
{
    /// <summary>Messages to hand to the outbox in the append's transaction (see <see cref="GroupCommit"/>): sent only if it commits, after it.</summary>
    public IReadOnlyList<object> Outgoing { get; init; } = [];

    /// <summary>Statements to run in the append's transaction: they commit only with its events (a lease given up with the outcome).</summary>
    public IReadOnlyList<QueuedSql> AlsoRun { get; init; } = [];

    /// <summary>Adds the append to <paramref name="session"/>, for its tenant, with its metadata on each event.</summary>
    public StreamAction AddTo(IDocumentSession session)
    {
        var events = session.ForTenant(TenantId).Events;
        var action = ExpectedVersion == 0 ? events.StartStream(StreamType, StreamId, Events) : events.Append(StreamId, Events);
        if (ExpectedVersion > 0)
            action.ExpectedVersionOnServer = ExpectedVersion;
        foreach (var e in action.Events)
        {
            e.CorrelationId = Metadata.CorrelationId;
            e.CausationId = Metadata.CausationId;
            e.UserName = Metadata.Actor;
        }
        foreach (var statement in AlsoRun)
            session.QueueSqlCommand(statement.Sql, statement.Parameters);
        return action;
    }
}

/// <summary>A statement for Marten's unit of work, with a "?" for each of its <paramref name="Parameters"/>.</summary>
public sealed record QueuedSql(string Sql, params object[] Parameters);

/// <summary>Where a stream stands after an append: its version and the global sequence number of its last event.</summary>
public sealed record Appended(long Version, long LastSeq)
{
    public static Appended Of(StreamAction action) => new(action.Events[^1].Version, action.Events[^1].Sequence);
}

/// <summary>
/// Group commit, which Marten does not do: appends that arrive while a write is under way go into
/// the next one, which is one Marten session and one commit for all of them, so many writers cost a
/// few transactions instead of one each. Each caller is answered after that commit (an answered append
/// is durable) with its own outcome: a stream id that exists or a version that moved fails only its
/// caller, and the others are written again without it. A database that is away fails the whole group
/// at once: retrying append by append would only keep every writer waiting longer.
/// Each commit opens its transaction before Marten numbers the events (<see cref="FeedHorizon.OpenTransactionBeforeNumbering"/>),
/// and hands the appends' <see cref="StreamAppend.Outgoing"/> messages to <paramref name="outbox"/> in that transaction.
/// </summary>
public sealed class GroupCommit(IDocumentStore store, Func<IDocumentSession, IReadOnlyList<object>, ValueTask>? outbox = null)
{
    // Measured with ./bench on 2 cores: past this, larger groups stopped adding appends per second.
    private const int MaxGroup = 128;

    // A refusal that no stream explains (the append it raced has since rolled back) is written again this often.
    private const int UnexplainedRefusals = 3;

    private readonly Batcher<StreamAppend, Outcome> _batcher = new(appends => Write(store, outbox, appends), MaxGroup, a => a.StreamId);

    /// <summary>
    /// Appends, durably, together with whatever else arrives at the same moment. Throws Marten's
    /// <see cref="ExistingStreamIdCollisionException"/> when a stream to start exists, and
    /// <see cref="ConcurrencyException"/> when the stream is not at the expected version.
    /// </summary>
    public async Task<Appended> Append(StreamAppend append, CancellationToken ct = default)
    {
        var outcome = await _batcher.Run(append, ct);
        return outcome.Appended ?? throw outcome.Error!;
    }

    private sealed record Outcome(Appended? Appended, Exception? Error);

    private static async Task<IReadOnlyList<Outcome>> Write(
        IDocumentStore store, Func<IDocumentSession, IReadOnlyList<object>, ValueTask>? outbox, IReadOnlyList<StreamAppend> appends)
    {
        var outcomes = new Outcome?[appends.Count];
        var pending = Enumerable.Range(0, appends.Count).ToList();
        var unexplained = 0;
        while (pending.Count > 0)
        {
            try
            {
                var written = await Commit(store, outbox, [.. pending.Select(i => appends[i])]);
                for (var k = 0; k < pending.Count; k++)
                    outcomes[pending[k]] = new Outcome(written[k], null);
                break;
            }
            catch (Exception e) when (e is ExistingStreamIdCollisionException or ConcurrencyException)
            {
                // Marten names one stream, and not always the right one (a taken id in a session that starts
                // several streams is reported against the first of them): ask the store which appends no longer fit.
                var refused = await Refused(store, [.. pending.Select(i => appends[i])]);
                if (refused.Count == 0 && ++unexplained > UnexplainedRefusals)
                {
                    FailAll(e);
                    break;
                }
                foreach (var (k, error) in refused.OrderByDescending(r => r.Index))
                {
                    outcomes[pending[k]] = new Outcome(null, error);
                    pending.RemoveAt(k);
                }
            }
            catch (Exception e) when (IsRefusedValue(e) && pending.Count > 1)
            {
                // A value of one append broke the write: write each alone to find whose.
                foreach (var i in pending)
                    outcomes[i] = (await Write(store, outbox, [appends[i]]))[0];
                break;
            }
            catch (Exception e)
            {
                FailAll(e);
                break;
            }
        }
        return outcomes!;

        void FailAll(Exception e)
        {
            foreach (var i in pending)
                outcomes[i] = new Outcome(null, e);
        }
    }

    private static async Task<Appended[]> Commit(
        IDocumentStore store, Func<IDocumentSession, IReadOnlyList<object>, ValueTask>? outbox, StreamAppend[] appends)
    {
        await using var session = store.LightweightSession();
        var actions = appends.Select(a => a.AddTo(session)).ToArray();
        if (appends.SelectMany(a => a.Outgoing).ToList() is { Count: > 0 } outgoing)
            await (outbox ?? throw new InvalidOperationException("This group commit has no outbox to hand messages to."))(session, outgoing);
        await FeedHorizon.OpenTransactionBeforeNumbering(session, CancellationToken.None);
        await session.SaveChangesAsync(CancellationToken.None);
        return [.. actions.Select(Appended.Of)];
    }

    /// <summary>The appends the streams as they now stand refuse (by their index), each with the error its caller gets.</summary>
    private static async Task<List<(int Index, Exception Error)>> Refused(IDocumentStore store, StreamAppend[] appends)
    {
        var states = new Dictionary<Guid, StreamState?>();
        foreach (var tenant in appends.GroupBy(a => a.TenantId))
        {
            await using var session = store.QuerySession(tenant.Key);
            var batch = session.CreateBatchQuery();
            var reads = tenant.Select(a => (a.StreamId, State: batch.Events.FetchStreamState(a.StreamId))).ToList();
            await batch.Execute();
            foreach (var (id, state) in reads)
                states[id] = await state;
        }
        var refused = new List<(int, Exception)>();
        for (var i = 0; i < appends.Length; i++)
        {
            var (append, state) = (appends[i], states[appends[i].StreamId]);
            if (append.ExpectedVersion == 0 && state is not null)
                refused.Add((i, new ExistingStreamIdCollisionException(append.StreamId, append.StreamType)));
            else if (append.ExpectedVersion is > 0 and var expected && state?.Version != expected)
                refused.Add((i, new EventStreamUnexpectedMaxEventIdException(append.StreamId, append.StreamType, expected, state?.Version ?? 0)));
        }
        return refused;
    }

    /// <summary>PostgreSQL refused a value in the write (a data exception or a broken constraint), not the write as such.</summary>
    private static bool IsRefusedValue(Exception e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("22", StringComparison.Ordinal) || p.SqlState.StartsWith("23", StringComparison.Ordinal),
        { InnerException: { } inner } => IsRefusedValue(inner),
        _ => false,
    };

    /// <summary>The database is away or overloaded, not refusing anything in particular: trying again later may work.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        NpgsqlException { IsTransient: true } or SocketException or TimeoutException => true,
        { InnerException: { } inner } => IsTransient(inner),
        _ => false,
    };
}
