using Marten;
using Marten.Exceptions;
using Marten.Services;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventSourced.EventStore;

/// <summary>
/// Marten's logger for the store, as Marten's own would log (failures as errors, schema changes as information), except
/// for the refusals an append expects: a stream that already exists (a client's retry of a submission, answered from the
/// existing job) or a version taken meanwhile (a command decided again). Marten logs each failed command as an error with
/// its SQL and parameters, five entries per retry, which would fill the log with clients' inputs on ordinary retries.
/// </summary>
public sealed class ExpectedRefusals(ILogger<IDocumentStore> logger) : IMartenLogger, IMartenSessionLogger
{
    public IMartenSessionLogger StartSession(IQuerySession session) => this;

    public void SchemaChange(string sql) => logger.LogInformation("Marten changed the schema:\n{Sql}", sql);

    public void LogFailure(NpgsqlCommand command, Exception ex) => LogFailure(ex, command.CommandText);

    public void LogFailure(NpgsqlBatch batch, Exception ex) => LogFailure(ex, string.Join('\n', batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(c => c.CommandText)));

    public void LogFailure(Exception ex, string message)
    {
        if (!IsExpected(ex))
            logger.LogError(ex, "Marten failed executing:\n{Sql}", message);
    }

    public void LogSuccess(NpgsqlCommand command)
    {
    }

    public void LogSuccess(NpgsqlBatch batch)
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

    /// <summary>
    /// A stream's id or an event's version taken, as Marten reports it or as PostgreSQL does (a unique key of the event
    /// tables); a unique key broken anywhere else is a fault and is logged.
    /// </summary>
    private static bool IsExpected(Exception ex) => ex switch
    {
        ExistingStreamIdCollisionException or JasperFx.ConcurrencyException => true,
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, TableName: "mt_streams" or "mt_events" } => true,
        { InnerException: { } inner } => IsExpected(inner),
        _ => false,
    };
}
