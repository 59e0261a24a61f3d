using System.Text.Json;
using System.Text.Json.Serialization;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.EventStore.Notifications;
using JasperFx.Events;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Wolverine.Http;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Jobs.Events;

/// <summary>The data of one SSE event: where the job stands after it, and the event's own fields.</summary>
public sealed record JobEventData(
    Guid JobId,
    string EventType,
    string Status,
    int Progress,
    int Attempt,
    long Version,
    DateTimeOffset Timestamp,
    string? JobType = null,
    string? CorrelationId = null,
    string? Worker = null,
    int? Percent = null,
    string? Message = null,
    string? ResultUrl = null,
    string? ResultContentType = null,
    JobError? Error = null,
    bool? CancellationRequested = null,
    string? Reason = null,
    DateTimeOffset? RetryAt = null,
    string? WaitingFor = null,
    DateTimeOffset? WaitingUntil = null);

/// <summary>The event data's JSON, generated at build time: no reflection per event.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobEventData))]
internal sealed partial class JobEventJson : JsonSerializerContext;

/// <summary>
/// GET /jobs/{id}/events: the job's events as Server-Sent Events. Each event's id is its global
/// sequence number. On connect it replays what came after Last-Event-ID (or the lastEventId query
/// parameter, for clients that cannot set headers), then streams new events as any process appends
/// them, and ends after the final one. A reconnect that already has the final event gets 204,
/// which tells EventSource to stop.
/// </summary>
public static class JobEventsEndpoint
{
    private static readonly TimeSpan DatabaseRetry = TimeSpan.FromSeconds(1);

    [Authorize(Policy = AccessPolicies.FollowJob)]
    [EnableRateLimiting(AccessModule.OpenStreams)]
    [WolverineGet("/jobs/{id:guid}/events", OperationId = "JobEvents")]
    [EndpointSummary("Follow a job live, as Server-Sent Events")]
    [RequestHeaders("Last-Event-ID")]
    [Query("access_token", typeof(string), "This job's stream token, from the eventsUrl (for an EventSource, which sends no headers).")]
    [Responds(StatusCodes.Status200OK, ContentTypes = ["text/event-stream"],
        Description = "Server-Sent Events: the job's events from Last-Event-ID on, then live, until its final event. See the AsyncAPI document.")]
    [Responds(StatusCodes.Status204NoContent, Description = "The job has finished and Last-Event-ID is its last event: nothing more will come.")]
    [Problems(StatusCodes.Status400BadRequest, "invalid_last_event_id")]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status410Gone, "job_expired")]
    public static async Task<IResult> Stream(
        Guid id, HttpContext http, JobLookup lookup, StreamReads reads, StreamWatchers watchers,
        SseKeepAlive keepAlive, IOptions<SseOptions> options, IHostApplicationLifetime lifetime, ILogger<SseOptions> logger)
    {
        if (!TryLastEventId(http.Request, out var lastEventId))
        {
            return Problems.Problem(StatusCodes.Status400BadRequest, "invalid_last_event_id",
                "Last-Event-ID must be the id of an event this stream sent (a whole number).");
        }
        var tenant = Tenant.Of(http);
        var (view, problem) = await lookup.Find(id, http, http.RequestAborted);
        if (view is null)
            return problem!;
        if (view.State.IsFinished && lastEventId >= view.LastSeq)
            return TypedResults.NoContent();

        // Ends with the client, or when this node shuts down: the client reconnects elsewhere and resumes.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var ct = stop.Token;
        // Watch before the first read, so an append between the read and the wait still wakes us.
        using var watch = watchers.Watch(id);
        var sse = new SseWriter(http.Response);
        var links = JobLinks.For(http);
        try
        {
            await sse.Start(options.Value.Retry, ct);
            Job? state = null;
            long version = 0, sent = lastEventId;
            while (true)
            {
                // Not kept in a variable: an idle stream holds no events while it waits.
                foreach (var e in await ReadAfter(version))
                {
                    state = Job.Evolve(state, (JobEvent)e.Data);
                    version = e.Version;
                    // Callback records are the service's talk with the client's server, not news of the job.
                    if (e.Sequence <= sent || Callbacks.IsRecord((JobEvent)e.Data))
                        continue;
                    sse.Event(e.Sequence, EventName((JobEvent)e.Data, state), Data(e, state, links), JobEventJson.Default.JobEventData);
                    sent = e.Sequence;
                }
                await sse.Flush(ct);
                if (state!.IsFinished)
                    break;
                var appended = watch.WaitForAppend(Timeout.InfiniteTimeSpan, ct);
                while (await Task.WhenAny(appended, keepAlive.NextTick) != appended)
                    await sse.Comment("keepalive", ct);
                await appended;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        // The stream stays open while the database is away (a restart): browsers' EventSource
        // reconnects after a dropped stream, but gives up for good on the 503 it would then get.
        async Task<IReadOnlyList<IEvent>> ReadAfter(long version)
        {
            while (true)
            {
                try
                {
                    return await reads.Read(id, tenant, version + 1, ct);
                }
                catch (Exception e) when (GroupCommit.IsTransient(e))
                {
                    logger.LogWarning("Event stream of job {JobId} waits for the database: {Error}", id, e.Message);
                    await watch.WaitForAppend(options.Value.KeepAlive < DatabaseRetry ? options.Value.KeepAlive : DatabaseRetry, ct);
                    await sse.Comment("keepalive", ct);
                }
            }
        }
        return Results.Empty;
    }

    private static bool TryLastEventId(HttpRequest request, out long lastEventId)
    {
        var value = request.Headers["Last-Event-ID"].ToString();
        if (value.Length == 0)
            value = request.Query["lastEventId"].ToString();
        lastEventId = 0;
        return value.Length == 0 || (long.TryParse(value, out lastEventId) && lastEventId >= 0);
    }

    /// <summary>The SSE event name: "progress" for progress, "waiting" for a suspension, otherwise the job's status after the event.</summary>
    private static string EventName(JobEvent e, Job state) => e switch
    {
        JobProgressed => "progress",
        JobSuspended => "waiting",
        _ => JobDecider.Name(state.Status),
    };

    private static JobEventData Data(IEvent stored, Job state, JobLinks links)
    {
        var e = (JobEvent)stored.Data;
        var data = new JobEventData(state.Id, stored.EventTypeName, JobDecider.Name(state.Status), state.Progress, state.Attempt, stored.Version, e.At);
        return e switch
        {
            JobSubmitted s => data with { JobType = s.Type, CorrelationId = s.CorrelationId },
            JobStarted s => data with { Worker = s.Worker },
            JobProgressed p => data with { Percent = p.Percent, Message = p.Message },
            JobSuspended w => data with { WaitingFor = w.WaitingFor, WaitingUntil = w.Until },
            JobCompleted c => data with { ResultUrl = links.Result(state.Id), ResultContentType = c.ResultContentType },
            JobAttemptFailed a => data with { Error = a.Error, RetryAt = a.RetryAt },
            JobFailed f => data with { Error = f.Error },
            JobReleased r => data with { Reason = r.Reason },
            JobRedriven r => data with { Reason = r.Reason },
            JobCancellationRequested r => data with { CancellationRequested = true, Reason = r.Reason },
            _ => data,
        };
    }
}
