using EventSourced.EventStore.Notifications;
using JasperFx.Events;
using JasperFx.MultiTenancy;
using Marten;
using Weasel.Core;

namespace EventSourced.EventStore;

/// <summary>How Marten stores our events. One place, so every process, test and benchmark stores them alike.</summary>
public static class EventStoreSetup
{
    /// <summary>The PostgreSQL schema of every table: Marten's, Wolverine's and ours.</summary>
    public const string Schema = "jobs";

    /// <param name="eventTypes">Every event type under the stable name it is stored by ("job.submitted"), so a C# rename never breaks history.</param>
    public static void Configure(StoreOptions options, IReadOnlyDictionary<string, Type> eventTypes)
    {
        options.DatabaseSchemaName = Schema;
        options.Events.StreamIdentity = StreamIdentity.AsGuid;
        // Every event carries its tenant, and so does every document.
        options.Events.TenancyStyle = TenancyStyle.Conjoined;
        options.Policies.AllDocumentsAreMultiTenanted();
        // Rich: versions and global sequence numbers are assigned before the write, so inline projections
        // see both (Quick leaves the sequence at 0 until after the commit, and a read model keeps the last one).
        options.Events.AppendMode = EventAppendMode.Rich;
        options.Events.MetadataConfig.EnableAll();
        options.Events.MetadataConfig.UserNameEnabled = true;
        foreach (var (name, type) in eventTypes)
            options.Events.MapEventType(type, name);
        options.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
        options.Listeners.Add(new AppendNotifier());
    }
}
