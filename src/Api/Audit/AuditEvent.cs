using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EventSourced.Api.Http;
using EventSourced.EventStore;
using JasperFx.Events;

namespace EventSourced.Api.Audit;

/// <summary>One stored event as auditors read it, in a job's history and in the global feed: where it sits, what it says, who caused it.</summary>
public sealed record AuditEvent(long Seq, Guid JobId, long Version, string Type, DateTimeOffset Timestamp, JsonElement Data, EventMetadata Metadata)
{
    /// <summary>Its JSON as the feed writes it, wherever it is written: a tail sends the same bytes from the database and from the window.</summary>
    public static readonly JsonTypeInfo<AuditEvent> Json = (JsonTypeInfo<AuditEvent>)ResponseJson.Web.GetTypeInfo(typeof(AuditEvent));

    public static AuditEvent From(IEvent e) => new(
        e.Sequence, e.StreamId, e.Version, e.EventTypeName, e.Timestamp, JsonSerializer.SerializeToElement(e.Data, e.Data.GetType(), JsonSerializerOptions.Web),
        new EventMetadata(e.CorrelationId, e.CausationId, e.UserName));
}
