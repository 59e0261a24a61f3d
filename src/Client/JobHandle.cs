using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;

namespace EventSourced.Client;

/// <summary>
/// One job: its status, its events, its end, its result. Made by <see cref="JobsClient.SubmitAsync"/>, or from the id
/// alone by <see cref="JobsClient.Job"/> (an app that restarts keeps only the id). Keeps the last status it read, so
/// asking again costs the service a 304 while nothing changed.
/// </summary>
public sealed class JobHandle
{
    /// <summary>How long to wait before reconnecting a dropped stream until the service says (its "retry:" field).</summary>
    private static readonly TimeSpan DefaultReconnect = TimeSpan.FromSeconds(3);

    private readonly ApiTransport _transport;
    private Cached? _cached;

    internal JobHandle(ApiTransport transport, Guid id, JobAccepted? accepted)
    {
        _transport = transport;
        Id = id;
        Accepted = accepted;
    }

    public Guid Id { get; }

    /// <summary>The service's 202, when this handle came from a submission; null for a handle rebuilt from an id.</summary>
    public JobAccepted? Accepted { get; }

    /// <summary>The last status read (by <see cref="GetStatusAsync"/> or a wait), if any.</summary>
    public JobState? LastKnown => _cached?.State;

    /// <summary>
    /// Where the job stands now: the authoritative answer, to ask first when your app comes back after a while. Sends the
    /// ETag of the last answer as If-None-Match, so an unchanged job costs a 304 and its last state is returned.
    /// </summary>
    public async Task<JobState> GetStatusAsync(CancellationToken ct = default) => (await ReadStatusAsync(wait: null, ct)).State;

    /// <summary>
    /// The job's events as they happen, from its first (or after <paramref name="afterEventId"/>, a <see cref="JobEvent.Sequence"/>
    /// you kept), until its final event. A dropped stream, a node that shuts down, a service that restarts: it reconnects
    /// with Last-Event-ID and the service sends what was missed; no event is yielded twice. Gives up when it cannot
    /// connect for <see cref="JobsClientOptions.ReconnectFor"/>; a problem (404, 410 job_expired) is thrown at once.
    /// </summary>
    public async IAsyncEnumerable<JobEvent> WatchAsync(long? afterEventId = null, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var options = _transport.Options;
        var last = afterEventId;
        var reconnect = DefaultReconnect;
        var failures = 0;
        var sinceConnected = Stopwatch.StartNew();
        while (true)
        {
            var (response, failure, retryAfter) = await OpenStreamAsync(last, ct);
            if (response is not null)
            {
                using (response)
                {
                    if (response.StatusCode == HttpStatusCode.NoContent)
                        yield break;
                    sinceConnected.Restart();
                    var parser = SseParser.Create(await response.Content.ReadAsStreamAsync(ct));
                    await using var items = parser.EnumerateAsync(ct).GetAsyncEnumerator(ct);
                    while (true)
                    {
                        var (next, cut) = await NextAsync(items, ct);
                        if (parser.ReconnectionInterval > TimeSpan.Zero && parser.ReconnectionInterval != Timeout.InfiniteTimeSpan)
                            reconnect = parser.ReconnectionInterval;
                        // Cut mid-event, or ended by the service (a node shutting down): reconnect and resume.
                        failure = cut;
                        if (next is not { } item)
                            break;
                        if (!long.TryParse(item.EventId, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
                            throw new InvalidDataException($"An event of job {Id}'s stream has the id '{item.EventId}', not a sequence number.");
                        if (sequence <= last)
                            continue;
                        var e = JobEvent.From(sequence, item.EventType, item.Data);
                        last = sequence;
                        failures = 0;
                        yield return e;
                        if (e.IsFinal)
                            yield break;
                    }
                }
            }

            failures++;
            if (sinceConnected.Elapsed > options.ReconnectFor)
                throw failure ?? new IOException($"Job {Id}'s event stream kept ending for {options.ReconnectFor} without an event.");
            // The first reconnect after a drop waits a random part of the service's retry interval, so the clients of a node
            // that went away do not all come back at once; then backoff, as for any request.
            var delay = failures == 1 && retryAfter is null
                ? TimeSpan.FromMilliseconds(reconnect.TotalMilliseconds * Random.Shared.NextDouble())
                : options.Retry.DelayBefore(failures, retryAfter);
            await Task.Delay(delay, ct);
        }
    }

    /// <summary>
    /// Waits until the job has finished and returns its final state. Reads the status first (it may be finished already);
    /// then, with <see cref="WaitStrategy.Auto"/>, follows the event stream, long-polls when something in between does not
    /// pass streams, and polls at the service's Retry-After when long polls are not held.
    /// </summary>
    public async Task<JobState> WaitForCompletionAsync(WaitStrategy strategy = WaitStrategy.Auto, CancellationToken ct = default)
    {
        var state = await GetStatusAsync(ct);
        if (state.IsFinished)
            return state;
        if (strategy is WaitStrategy.Auto or WaitStrategy.Stream)
        {
            try
            {
                await foreach (var _ in WatchAsync(ct: ct))
                {
                }
                state = await GetStatusAsync(ct);
                if (state.IsFinished || strategy == WaitStrategy.Stream)
                    return state;
            }
            catch (EventStreamUnavailableException) when (strategy == WaitStrategy.Auto)
            {
                // Something between here and the service does not pass streams: long polls pass every proxy.
            }
        }
        return await PollUntilFinishedAsync(longPoll: strategy != WaitStrategy.Poll, ct);
    }

    /// <summary>
    /// Cancels the job: a queued one at once, a running one is asked to stop. With <paramref name="ifVersion"/> (a
    /// <see cref="JobState.Version"/> you read), only if the job is still at that version: otherwise a
    /// <see cref="VersionMismatchException"/>. A job that already completed or failed: a <see cref="JobsApiException"/>
    /// with code job_already_finished.
    /// </summary>
    public async Task<CancelAccepted> CancelAsync(string? reason = null, long? ifVersion = null, CancellationToken ct = default)
    {
        using var response = await _transport.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, _transport.Url($"jobs/{Id}/cancel"));
            if (reason is not null)
                request.Content = JsonContent.Create(new { reason }, options: ClientJson.Options);
            if (ifVersion is { } version)
                request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{version.ToString(CultureInfo.InvariantCulture)}\""));
            return request;
        }, ct);
        return await _transport.ReadAsync<CancelAccepted>(response, ct);
    }

    /// <summary>
    /// What the completed job produced, as <typeparamref name="T"/> (JSON read into it; <see cref="string"/> for the
    /// result's text as sent, a CSV say). Before it completed: a <see cref="JobsApiException"/> with code job_not_completed.
    /// </summary>
    public async Task<T> GetResultAsync<T>(CancellationToken ct = default)
    {
        using var response = await _transport.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, _transport.Url($"jobs/{Id}/result")), ct);
        if (typeof(T) == typeof(string))
            return (T)(object)await response.Content.ReadAsStringAsync(ct);
        return await _transport.ReadAsync<T>(response, ct);
    }

    /// <summary>Every event of the job as stored (needs a key with the auditor role).</summary>
    public async Task<JobHistory> GetHistoryAsync(CancellationToken ct = default)
    {
        using var response = await _transport.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, _transport.Url($"jobs/{Id}/history")), ct);
        return await _transport.ReadAsync<JobHistory>(response, ct);
    }

    /// <summary>
    /// GET /jobs/{id} until the job has finished: held by the service until the job moves (long poll), or at the pace of
    /// its Retry-After once a long poll comes back unchanged without being held (a proxy that drops Prefer, say).
    /// A service away for a while (a restart) is asked again, for up to <see cref="JobsClientOptions.ReconnectFor"/>.
    /// </summary>
    private async Task<JobState> PollUntilFinishedAsync(bool longPoll, CancellationToken ct)
    {
        var options = _transport.Options;
        var sinceAnswer = Stopwatch.StartNew();
        var polls = 0;
        TimeSpan? pace = null;
        while (true)
        {
            StatusRead read;
            try
            {
                read = await ReadStatusAsync(longPoll ? options.LongPollWait : null, ct);
            }
            catch (Exception e) when (IsTransient(e, ct) && sinceAnswer.Elapsed < options.ReconnectFor)
            {
                await Task.Delay(options.Retry.DelayBefore(++polls), ct);
                continue;
            }
            sinceAnswer.Restart();
            if (read.State.IsFinished)
                return read.State;
            if (longPoll && (read.Changed || read.Held))
                continue;
            longPoll = false;
            // At the service's pace; without one, slower and slower, so an outage is not met with a flood of polls.
            pace = read.RetryAfter ?? options.Retry.DelayBefore(++polls);
            await Task.Delay(pace.Value, ct);
        }
    }

    private static bool IsTransient(Exception e, CancellationToken ct) =>
        ApiTransport.IsConnectionFailure(e, ct) || e is JobsApiException { Status: var status } && RetryPolicy.IsRetryable(status);

    private async Task<StatusRead> ReadStatusAsync(TimeSpan? wait, CancellationToken ct)
    {
        var cached = _cached;
        using var response = await _transport.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, _transport.Url($"jobs/{Id}"));
            if (cached is not null)
                request.Headers.IfNoneMatch.Add(cached.ETag);
            if (wait is { } seconds)
                request.Headers.Add("Prefer", $"wait={(int)seconds.TotalSeconds}");
            return request;
        }, ct);
        var held = response.Headers.Contains("Preference-Applied");
        var retryAfter = RetryPolicy.RetryAfter(response);
        if (response.StatusCode == HttpStatusCode.NotModified && cached is not null)
            return new StatusRead(cached.State, Changed: false, held, retryAfter);
        var state = await _transport.ReadAsync<JobState>(response, ct);
        _cached = new Cached(response.Headers.ETag ?? new EntityTagHeaderValue($"\"{state.Version.ToString(CultureInfo.InvariantCulture)}\""), state);
        return new StatusRead(state, Changed: true, held, retryAfter);
    }

    /// <summary>Opens the stream from after <paramref name="last"/>: the answer, or why there is none and whether the service named a wait.</summary>
    private async Task<(HttpResponseMessage? Response, Exception? Failure, TimeSpan? RetryAfter)> OpenStreamAsync(long? last, CancellationToken ct)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _transport.Url($"jobs/{Id}/events"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (last is { } id)
            request.Headers.Add("Last-Event-ID", id.ToString(CultureInfo.InvariantCulture));
        HttpResponseMessage response;
        try
        {
            response = await _transport.SendOnceAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (Exception e) when (ApiTransport.IsConnectionFailure(e, ct))
        {
            return (null, e, null);
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (response.StatusCode == HttpStatusCode.NoContent || (response.StatusCode == HttpStatusCode.OK && mediaType == "text/event-stream"))
            return (response, null, null);
        if (RetryPolicy.IsRetryable(response.StatusCode))
        {
            var retryAfter = RetryPolicy.RetryAfter(response);
            return (null, await ApiTransport.ProblemOf(response, ct), retryAfter);
        }
        if (mediaType == "application/problem+json")
            throw await ApiTransport.ProblemOf(response, ct);
        response.Dispose();
        throw new EventStreamUnavailableException(response.StatusCode, mediaType);
    }

    private static async Task<(SseItem<string>? Item, Exception? Cut)> NextAsync(IAsyncEnumerator<SseItem<string>> items, CancellationToken ct)
    {
        try
        {
            return await items.MoveNextAsync() ? (items.Current, null) : (null, null);
        }
        catch (Exception e) when (ApiTransport.IsConnectionFailure(e, ct))
        {
            return (null, e);
        }
    }

    private sealed record Cached(EntityTagHeaderValue ETag, JobState State);

    private sealed record StatusRead(JobState State, bool Changed, bool Held, TimeSpan? RetryAfter);
}
