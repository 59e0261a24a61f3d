using Marten;
using Marten.Exceptions;
using Marten.Services;
using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// A session logger that keeps quiet about the refusals an append expects: a stream that already exists (a client's retry
/// of a submission, answered from the existing job) or one that moved on (a command decided again). Marten logs every failed
/// command as an error, with its SQL and parameters, which would fill the log with clients' inputs on ordinary retries.
/// Every other failure is passed on to the session's own logger.
/// </summary>
public sealed class ExpectedRefusals(IMartenSessionLogger inner) : IMartenSessionLogger
{
    public static void Quiet(IDocumentSession session) => session.Logger = new ExpectedRefusals(session.Logger);

    public void LogFailure(NpgsqlCommand command, Exception ex)
    {
        if (!IsExpected(ex))
            inner.LogFailure(command, ex);
    }

    public void LogFailure(NpgsqlBatch batch, Exception ex)
    {
        if (!IsExpected(ex))
            inner.LogFailure(batch, ex);
    }

    public void LogFailure(Exception ex, string message)
    {
        if (!IsExpected(ex))
            inner.LogFailure(ex, message);
    }

    public void LogSuccess(NpgsqlCommand command) => inner.LogSuccess(command);
    public void LogSuccess(NpgsqlBatch batch) => inner.LogSuccess(batch);
    public void RecordSavedChanges(IDocumentSession session, IChangeSet commit) => inner.RecordSavedChanges(session, commit);
    public void OnBeforeExecute(NpgsqlCommand command) => inner.OnBeforeExecute(command);
    public void OnBeforeExecute(NpgsqlBatch batch) => inner.OnBeforeExecute(batch);

    /// <summary>A unique key broken (the stream's id, or an event's version in its stream), as Marten reports it or as PostgreSQL does.</summary>
    private static bool IsExpected(Exception ex) => ex switch
    {
        ExistingStreamIdCollisionException or JasperFx.ConcurrencyException => true,
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } => true,
        { InnerException: { } inner } => IsExpected(inner),
        _ => false,
    };
}
