using System.Globalization;
using System.Text.Json;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs;
using EventSourced.Api.Tenancy;
using EventSourced.EventStore;
using JasperFx.Events;
using EventSourced.Projections.Jobs;
using Marten;
using Marten.Linq.MatchesSql;
using Marten.Events.Archiving;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Wolverine.Http;

namespace EventSourced.Api.Audit;

/// <param name="Horizon">The feed's horizon when it was read: every event up to it is final, none later is shown yet.</param>
/// <param name="Next">The URL of the next page; with the last event's seq as its "after", it stays valid as events are added.</param>
public sealed record EventFeedPage(IReadOnlyList<AuditEvent> Events, long Horizon, string Next);

/// <summary>
/// GET /events: the tenant's events in the order of their global sequence numbers, for auditors and exports. Gap-free: it
/// reads only up to the <see cref="FeedHorizon"/>, so a page never passes an event whose transaction has yet to commit, and
/// "after" the last seq of a page is always the right place to go on from. Filters: type, jobType, correlationId, causationId (the request
/// or event that caused it), actor (who acted: "key:{id}", a worker, a node), from and to (the
/// event's time); archived jobs' events only with includeArchived=true. JSON pages by default; with Accept:
/// application/x-ndjson, one event per line up to the horizon (or limit), written as read, for exports of any size.
/// </summary>
public static class EventFeedEndpoint
{
    // An export reads in larger pages: fewer round trips, and a page is written out before the next is read.
    private const int ExportPage = 5000;
    private const int DefaultPage = 100;
    private const string NdJson = "application/x-ndjson";

    [Authorize(Policy = AccessPolicies.Audit)]
    [WolverineGet("/events", OperationId = "EventFeed")]
    [EndpointSummary("The tenant's events in order: a page, or an NDJSON export")]
    [FeedFilters]
    [Query("limit", typeof(int), "Events per page, 1 to 1,000 (no limit for an NDJSON export).")]
    [Responds(StatusCodes.Status200OK, typeof(EventFeedPage), ContentTypes = ["application/json", "application/x-ndjson"], Headers = ["Feed-Horizon"],
        Description = "A page of events (JSON), or with Accept: application/x-ndjson every event up to the horizon, one per line.")]
    [Problems(StatusCodes.Status400BadRequest, "validation_failed")]
    public static async Task<IResult> Get(HttpContext http, IDocumentStore store, FeedHorizon horizon, CancellationToken ct)
    {
        var ndjson = http.Request.Headers.Accept.ToString().Contains(NdJson, StringComparison.OrdinalIgnoreCase);
        var (query, problem) = FeedQuery.Parse(http.Request.Query, ndjson);
        if (problem is not null)
            return problem;
        var upTo = await horizon.Current(ct);
        await using var session = store.QuerySession(Tenant.Of(http));

        if (!ndjson)
        {
            var events = await query!.Page(session, query.After, upTo, query.Limit!.Value, ct);
            var last = events.Count > 0 ? events[^1].Sequence : query.After;
            return TypedResults.Ok(new EventFeedPage([.. events.Select(AuditEvent.From)], upTo, query.NextUrl(JobLinks.For(http), last)));
        }

        http.Response.ContentType = NdJson;
        http.Response.Headers["Feed-Horizon"] = upTo.ToString(CultureInfo.InvariantCulture);
        var (after, left) = (query!.After, query.Limit ?? long.MaxValue);
        while (left > 0)
        {
            var events = await query.Page(session, after, upTo, (int)Math.Min(left, ExportPage), ct);
            foreach (var e in events)
            {
                await JsonSerializer.SerializeAsync(http.Response.Body, AuditEvent.From(e), AuditEvent.Json, ct);
                await http.Response.Body.WriteAsync("\n"u8.ToArray(), ct);
            }
            await http.Response.Body.FlushAsync(ct);
            if (events.Count < ExportPage)
                break;
            (after, left) = (events[^1].Sequence, left - events.Count);
        }
        return Results.Empty;
    }

    /// <summary>
    /// GET /events/stream: the same feed as Server-Sent Events, a live audit tail. Each event's id is its sequence number, so
    /// a reconnect with Last-Event-ID resumes exactly after the last one received; the filters are those of GET /events.
    /// New events come from the node's <see cref="AuditTail"/>, read once for every tail; a tail further back than its
    /// window reads the database, page by page as GET /events does, until it reaches the window.
    /// </summary>
    [Authorize(Policy = AccessPolicies.Audit)]
    [EnableRateLimiting(AccessModule.OpenStreams)]
    [WolverineGet("/events/stream", OperationId = "EventFeedStream")]
    [EndpointSummary("The tenant's events live, as Server-Sent Events")]
    [FeedFilters]
    [RequestHeaders("Last-Event-ID")]
    [Responds(StatusCodes.Status200OK, ContentTypes = ["text/event-stream"],
        Description = "Server-Sent Events: the tenant's events after Last-Event-ID (or after), then live. See the AsyncAPI document.")]
    [Problems(StatusCodes.Status400BadRequest, "validation_failed", "invalid_last_event_id")]
    public static async Task<IResult> Stream(
        HttpContext http, IDocumentStore store, FeedHorizon horizon, AuditTail tail, SseKeepAlive keepAlive, IOptions<SseOptions> options,
        IHostApplicationLifetime lifetime)
    {
        var (query, problem) = FeedQuery.Parse(http.Request.Query, ndjson: true);
        if (problem is not null)
            return problem;
        var after = query!.After;
        var lastEventId = http.Request.Headers["Last-Event-ID"].ToString();
        if (lastEventId.Length > 0 && !long.TryParse(lastEventId, NumberStyles.None, CultureInfo.InvariantCulture, out after))
            return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_last_event_id", "Last-Event-ID must be the id of an event this stream sent (a whole number).");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var ct = stop.Token;
        var tenant = Tenant.Of(http);
        using var following = tail.Follow();
        await using var session = store.QuerySession(tenant);
        var sse = new SseWriter(http.Response);
        try
        {
            await sse.Start(options.Value.Retry, ct);
            while (true)
            {
                // "after" is how far this tail has looked: every event up to it was sent or did not match.
                if (tail.Read(after, e => e.TenantId == tenant && query.Matches(e), RequestLimits.MaxEventsPage) is not { } read)
                {
                    var upTo = await horizon.Current(ct);
                    var events = await query.Page(session, after, upTo, RequestLimits.MaxEventsPage, ct);
                    foreach (var e in events)
                        sse.Event(e.Sequence, e.EventTypeName, AuditEvent.From(e), AuditEvent.Json);
                    await sse.Flush(ct);
                    after = events.Count == RequestLimits.MaxEventsPage ? events[^1].Sequence : upTo;
                    continue;
                }
                foreach (var e in read.Events)
                    sse.Event(e.Seq, e.Type, e.Json);
                await sse.Flush(ct);
                after = read.UpTo;
                if (read.Events.Count == RequestLimits.MaxEventsPage)
                    continue;
                var moved = read.Moved.WaitAsync(ct);
                while (await Task.WhenAny(moved, keepAlive.NextTick) != moved)
                    await sse.Comment("keepalive", ct);
                await moved;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        return Results.Empty;
    }

    /// <summary>The feed's query string, checked.</summary>
    private sealed record FeedQuery(
        long After, int? Limit, string? Type, string? JobType, string? CorrelationId, string? CausationId, string? Actor, DateTimeOffset? From, DateTimeOffset? To,
        bool IncludeArchived)
    {
        public static (FeedQuery? Query, IResult? Problem) Parse(IQueryCollection q, bool ndjson)
        {
            var errors = new Dictionary<string, string[]>();
            long after = 0;
            if (q["after"].Count > 0 && !(long.TryParse(q["after"], NumberStyles.None, CultureInfo.InvariantCulture, out after)))
                errors["after"] = ["Must be a sequence number (a whole number from 0)."];
            int? limit = ndjson ? null : DefaultPage;
            if (q["limit"].Count > 0)
            {
                if (int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l >= 1 && (ndjson || l <= RequestLimits.MaxEventsPage))
                    limit = l;
                else
                    errors["limit"] = [$"Must be a whole number from 1 to {RequestLimits.MaxEventsPage} (no upper limit for an NDJSON export)."];
            }
            // In whole microseconds, as PostgreSQL keeps them (Npgsql drops the rest of a bound): a tail's window, compared
            // in memory, must draw the line where the database does.
            var from = Microseconds(QueryValues.Moment(q, "from", errors));
            var to = Microseconds(QueryValues.Moment(q, "to", errors));
            QueryValues.CheckNames(q, errors, "type", "jobType", "correlationId", "causationId", "actor");
            if (errors.Count > 0)
                return (null, Problems.Validation(errors));
            return (new FeedQuery(after, limit, QueryValues.Text(q, "type"), QueryValues.Text(q, "jobType"), QueryValues.Text(q, "correlationId"), QueryValues.Text(q, "causationId"),
                QueryValues.Text(q, "actor"), from, to, q["includeArchived"] == "true"), null);
        }

        public async Task<IReadOnlyList<IEvent>> Page(IQuerySession session, long after, long upTo, int limit, CancellationToken ct)
        {
            var events = session.Events.QueryAllRawEvents().Where(e => e.Sequence > after && e.Sequence <= upTo);
            if (IncludeArchived)
                events = events.Where(e => e.MaybeArchived());
            if (Type is { } type)
                events = events.Where(e => e.EventTypeName == type);
            if (JobType is { } jobType)
                events = events.Where(e => e.MatchesSql(JobQueries.EventOfJobType, jobType));
            if (CorrelationId is { } correlationId)
                events = events.Where(e => e.CorrelationId == correlationId);
            if (CausationId is { } causationId)
                events = events.Where(e => e.CausationId == causationId);
            if (Actor is { } actor)
                events = events.Where(e => e.UserName == actor);
            if (From is { } from)
                events = events.Where(e => e.Timestamp >= from);
            if (To is { } to)
                events = events.Where(e => e.Timestamp < to);
            return await events.OrderBy(e => e.Sequence).Take(limit).ToListAsync(ct);
        }

        /// <summary>Whether a tail's event of the window passes the filters of <see cref="Page"/>: the same meaning, in memory.</summary>
        public bool Matches(TailEvent e) =>
            (IncludeArchived || !e.IsArchived)
            && (Type is null || e.Type == Type)
            && (JobType is null || e.JobType == JobType)
            && (CorrelationId is null || e.Metadata.CorrelationId == CorrelationId)
            && (CausationId is null || e.Metadata.CausationId == CausationId)
            && (Actor is null || e.Metadata.Actor == Actor)
            && (From is not { } from || e.Timestamp >= from)
            && (To is not { } to || e.Timestamp < to);

        private static DateTimeOffset? Microseconds(DateTimeOffset? moment) => moment?.AddTicks(-(moment.Value.Ticks % 10));

        public string NextUrl(JobLinks links, long last)
        {
            var next = new Dictionary<string, string?>
            {
                ["after"] = last.ToString(CultureInfo.InvariantCulture), ["limit"] = Limit?.ToString(CultureInfo.InvariantCulture), ["type"] = Type, ["jobType"] = JobType,
                ["correlationId"] = CorrelationId, ["causationId"] = CausationId, ["actor"] = Actor, ["from"] = From?.ToString("O"), ["to"] = To?.ToString("O"), ["includeArchived"] = IncludeArchived ? "true" : null,
            };
            return Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(links.To("/events"), next.Where(p => p.Value is not null));
        }
    }
}

/// <summary>The query parameters of the feed, a page of it or its live tail alike, as the endpoints read them.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FeedFiltersAttribute : Attribute, IQueryParameters
{
    public IEnumerable<QueryAttribute> Parameters { get; } =
    [
        new("after", typeof(long), "The seq to go on after (0: from the start)."),
        new("type", typeof(string), "The event type (job.completed)."),
        new("jobType", typeof(string), "The job type."),
        new("correlationId", typeof(string), "The correlation id."),
        new("causationId", typeof(string), "The causation id (the request that caused it)."),
        new("actor", typeof(string), "Who caused it."),
        new("from", typeof(DateTimeOffset), "Events at or after."),
        new("to", typeof(DateTimeOffset), "Events before."),
        new("includeArchived", typeof(bool), "true to include archived jobs' events."),
    ];
}
