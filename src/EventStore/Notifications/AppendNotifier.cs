using Marten;

namespace EventSourced.EventStore.Notifications;

/// <summary>
/// Marten tells no other process that events were appended (its own notification, for its daemon, has
/// no payload). This listener queues a NOTIFY naming each stream and its new version in the transaction
/// of every session that appends, so it is delivered at commit and never for a rollback. Registered on
/// the store, it covers group commits, claims and Wolverine's handlers alike.
/// </summary>
public sealed class AppendNotifier : DocumentSessionListenerBase
{
    public const string Channel = "jobs_events_appended";

    // A notification's payload must stay under 8000 bytes: a hundred "id:version" entries take about 5500.
    private const int StreamsPerNotification = 100;

    public override Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
    {
        foreach (var streams in session.PendingChanges.Streams().Chunk(StreamsPerNotification))
        {
            // Versions are assigned by now (Rich appends). NOTIFY, not SELECT pg_notify: Marten expects queued
            // commands to return no rows (marten#5210). Its payload cannot be a parameter, but it holds only
            // hex ids and numbers, so it is safe inline.
            var payload = string.Join(',', streams.Select(s => StreamAppended.Format(s.Id, s.Version)));
            session.QueueSqlCommand($"NOTIFY {Channel}, '{payload}'");
        }
        return Task.CompletedTask;
    }
}
