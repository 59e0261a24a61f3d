namespace EventSourced.Projections.Jobs;

/// <summary>
/// A callback to send about the event at <paramref name="Version"/> of a job's stream: its <paramref name="Attempt"/>-th
/// try. The message the status projection queues in the outbox, and the webhook sender schedules again on failure.
/// </summary>
public sealed record JobCallbackDue(Guid JobId, string TenantId, long Version, int Attempt);
