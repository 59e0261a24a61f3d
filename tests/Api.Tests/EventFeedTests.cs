using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventSourced.Api.Access;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.TestSupport;
using Marten;
using Marten.Services;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventSourced.Api.Tests;

public sealed class EventFeedTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Paging_through_the_feed_while_jobs_are_added_sees_every_event_once_in_order()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        var writers = Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
                await _client.SubmitTranscode();
        })));
        var seen = new List<long>();
        var next = $"/events?after={start}&limit=7";
        while (!writers.IsCompleted || seen.Count < 200)
        {
            var page = await Page(next);
            seen.AddRange(page.Events.Select(e => e.Seq));
            next = page.Next;
            if (page.Events.Count == 0)
                await Task.Delay(20);
        }
        await writers;

        Assert.Equal(200, seen.Count);
        Assert.Equal(seen.Order(), seen);
        Assert.Equal(seen.Distinct().Count(), seen.Count);
    }

    [Fact]
    public async Task An_export_is_one_event_per_line_and_another_tenants_events_are_not_in_it()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        var mine = await _client.SubmitTranscode();
        await api.ClientFor("acme").SubmitTranscode();
        await Eventually.Get(() => Page($"/events?after={start}"), p => p.Events.Count == 1, "the job to be in the feed");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/events?after={start}");
        request.Headers.Add("Accept", "application/x-ndjson");
        var response = await _client.SendAsync(request);

        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var only = JsonDocument.Parse(Assert.Single(lines)).RootElement;
        Assert.Equal((mine.ToString(), "job.submitted"), (only.Str("jobId"), only.Str("type")));
    }

    [Fact]
    public async Task The_feed_filters_by_event_type_job_type_and_correlation_id()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        var correlation = "order-" + Guid.NewGuid();
        var response = await _client.PostJson("/jobs", $$$"""{"type":"transcode","input":{"fileId":"a"},"correlationId":"{{{correlation}}}"}""", Guid.NewGuid().ToString());
        var id = (await response.Json()).GetProperty("jobId").GetGuid();
        await _client.SubmitTranscode();
        await _client.PostAsync($"/jobs/{id}/cancel", null);

        var page = await Eventually.Get(() => Page($"/events?after={start}&correlationId={correlation}"), p => p.Events.Count == 3, "the job's three events");
        Assert.All(page.Events, e => Assert.Equal(id, e.JobId));
        var cancelled = await Page($"/events?after={start}&type=job.cancelled");
        Assert.Equal(id, Assert.Single(cancelled.Events).JobId);
        var report = (await (await _client.PostJson("/reports", """{"reportType":"annual","year":2025}""", Guid.NewGuid().ToString())).Json()).GetProperty("jobId").GetGuid();
        var reports = await Eventually.Get(() => Page($"/events?after={start}&jobType=report"), p => p.Events.Count > 0, "the report's submission");
        Assert.Equal(report, Assert.Single(reports.Events).JobId);
        Assert.Contains("jobType=report", reports.Next, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_feed_filters_by_who_acted_and_by_the_request_that_caused_an_event()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        var client = api.ClientFor(Tenants.Default, Roles.Client);
        var id = await client.SubmitTranscode();
        await _client.PostAsync($"/jobs/{id}/cancel", null);
        var keyId = api.Key(Tenants.Default, [Roles.Client])[4..16];

        var byClient = await Eventually.Get(() => Page($"/events?after={start}&actor=key:{keyId}"), p => p.Events.Count > 0, "the client's submission");
        var submitted = Assert.Single(byClient.Events);
        Assert.Equal((id, "job.submitted"), (submitted.JobId, submitted.Type));
        var byRequest = await Page($"/events?after={start}&causationId={Uri.EscapeDataString(submitted.Metadata.CausationId!)}");
        Assert.Equal(submitted.Seq, Assert.Single(byRequest.Events).Seq);
    }

    [Fact]
    public async Task An_events_time_reads_as_plus_00_00_inside_its_data_in_the_history_the_feed_the_export_and_the_tail()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        await using var tail = await SseStream.Open(_client, $"/events/stream?after={start}");
        var id = await _client.SubmitTranscode();
        // The feed shows an event once every transaction numbered before it has ended: a few milliseconds after its commit.
        var feed = await Eventually.Get(async () => JsonDocument.Parse(await _client.GetStringAsync($"/events?after={start}")).RootElement.GetProperty("events"),
            events => events.GetArrayLength() == 1, "the job to be in the feed");
        using var export = new HttpRequestMessage(HttpMethod.Get, $"/events?after={start}");
        export.Headers.Add("Accept", "application/x-ndjson");

        var history = JsonDocument.Parse(await _client.GetStringAsync($"/jobs/{id}/history")).RootElement.GetProperty("events")[0];
        var page = feed[0];
        var line = JsonDocument.Parse(await (await _client.SendAsync(export)).Content.ReadAsStringAsync()).RootElement;
        var live = JsonDocument.Parse((await tail.Next())!.Data).RootElement;

        // The raw text, as a user reading the answer sees it: exports and tails wrote "\u002B00:00" where pages wrote "+00:00".
        Assert.All([history, page, line, live], e => Assert.EndsWith("+00:00\"", e.GetProperty("data").GetProperty("at").GetRawText()));
    }

    [Fact]
    public async Task The_live_tail_streams_new_events_and_a_reconnect_with_Last_Event_ID_resumes_after_the_last_one_received()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        SseEvent first;
        await using (var tail = await SseStream.Open(_client, $"/events/stream?after={start}"))
        {
            var id = await _client.SubmitTranscode();
            first = (await tail.Next())!;
            Assert.Equal(("job.submitted", id.ToString()), (first.Event, first.Json.Str("jobId")));
            await _client.PostAsync($"/jobs/{id}/cancel", null);
        }

        await using var resumed = await SseStream.Open(_client, "/events/stream", lastEventId: first.Id);
        var names = new[] { await resumed.Next(), await resumed.Next() };

        Assert.Equal(["job.cancellation_requested", "job.cancelled"], names.Select(e => e!.Event));
        Assert.All(names, e => Assert.True(e!.Seq > first.Seq));
    }

    [Fact]
    public async Task The_live_tail_waits_for_a_transaction_that_commits_late_rather_than_skip_its_event()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        await using var tail = await SseStream.Open(_client, $"/events/stream?after={start}");
        var late = Guid.NewGuid();
        await using var connection = new NpgsqlConnection(api.Database.ConnectionString);
        await using var transaction = await SubmitUncommitted(connection, late);
        var early = await _client.SubmitTranscode();
        var next = tail.Next();
        Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(500))));

        await transaction.CommitAsync();

        var events = new[] { await next, await tail.Next() };
        Assert.Equal([late, early], events.Select(e => e!.Json.GetProperty("jobId").GetGuid()));
    }

    [Fact]
    public async Task The_live_tail_draws_the_line_of_from_where_GET_events_does_also_within_a_microsecond()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        await using var keeper = await SseStream.Open(_client, $"/events/stream?after={start}");
        await _client.SubmitTranscode();
        var sent = (await keeper.Next())!;
        // The database keeps microseconds: a bound a tenth of one later is the same bound to GET /events.
        var from = Uri.EscapeDataString(sent.Json.GetProperty("timestamp").GetDateTimeOffset().AddTicks(5).ToString("O"));
        Assert.Equal(sent.Seq, Assert.Single((await Page($"/events?after={start}&from={from}")).Events).Seq);

        await using var tail = await SseStream.Open(_client, $"/events/stream?after={sent.Seq - 1}&from={from}");

        Assert.Equal(sent.Seq, (await tail.Next())?.Seq);
    }

    [Fact]
    public async Task Fifty_tails_at_the_live_edge_cost_the_database_one_read_of_the_feed_per_append_not_one_each()
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        var tails = new List<SseStream>();
        try
        {
            for (var i = 0; i < 50; i++)
                tails.Add(await SseStream.Open(_client, $"/events/stream?after={start}"));
            await _client.SubmitTranscode();
            await Task.WhenAll(tails.Select(t => t.Next()));

            using var reads = new FeedReads(api.Database.Name);
            for (var i = 0; i < 10; i++)
                await _client.SubmitTranscode();
            await Task.WhenAll(tails.Select(async t =>
            {
                for (var i = 0; i < 10; i++)
                    Assert.Equal("job.submitted", (await t.Next())?.Event);
            }));

            Assert.InRange(reads.Count, 1, 10);
        }
        finally
        {
            foreach (var tail in tails)
                await tail.DisposeAsync();
        }
    }

    /// <summary>Counts the statements that read the feed (events by sequence number) on one database, as Npgsql traces them.</summary>
    private sealed class FeedReads : IDisposable
    {
        private readonly ActivityListener _listener;
        private int _count;

        public FeedReads(string database)
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "Npgsql",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
                ActivityStopped = activity =>
                {
                    if (activity.GetTagItem("db.name") as string == database && activity.GetTagItem("db.statement") is string sql
                        && sql.Contains(".mt_events as d", StringComparison.Ordinal) && sql.Contains("d.seq_id >", StringComparison.Ordinal))
                        Interlocked.Increment(ref _count);
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public int Count => Volatile.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    private sealed record Entry(long Seq, Guid JobId, string Type, EventMetadata Metadata);

    private sealed record FeedPage(List<Entry> Events, long Horizon, string Next);

    private async Task<FeedPage> Page(string url)
    {
        var response = await _client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<FeedPage>(JsonSerializerOptions.Web))!;
    }

    /// <summary>
    /// Appends a submission of job <paramref name="id"/> in a transaction left open on <paramref name="connection"/>: numbered
    /// now, committed when the test commits it, after any job submitted meanwhile, whose number is higher.
    /// </summary>
    private async Task<NpgsqlTransaction> SubmitUncommitted(NpgsqlConnection connection, Guid id)
    {
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var session = api.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession(Tenanted(SessionOptions.ForTransaction(transaction)));
        session.Events.StartStream<Job>(id, Submitted(id));
        await session.SaveChangesAsync();
        return transaction;
    }

    private static SessionOptions Tenanted(SessionOptions options)
    {
        options.TenantId = Tenants.Default;
        return options;
    }

    private static JobEvent.JobSubmitted Submitted(Guid id) => new(
        id, "transcode", JsonDocument.Parse("""{"fileId":"late"}""").RootElement, null, null, "fp", id.ToString(), 3, 60,
        new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), DateTimeOffset.UtcNow);
}

public sealed class TimeTravelTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_job_is_shown_as_it_stood_at_each_version_and_moment_of_its_history()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new JobCommand.StartJob("node-a"));
        await api.Drive(id, new JobCommand.ReportProgress(1, 40, "segment 2"));
        var midway = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        await api.Drive(id, new JobCommand.CompleteJob(1, JsonDocument.Parse("{}").RootElement, "application/json"));

        var states = new List<(string, int, long)>();
        // Version 5 is not reached: the job as it stands after its last (4), as /history?version=5 shows every event.
        for (var version = 1; version <= 5; version++)
        {
            var job = await (await _client.GetAsync($"/jobs/{id}?atVersion={version}")).Json();
            states.Add((job.Str("status"), job.GetProperty("progress").GetInt32(), job.GetProperty("version").GetInt64()));
        }
        var then = await (await _client.GetAsync($"/jobs/{id}?asOf={Uri.EscapeDataString(midway.ToString("O"))}")).Json();

        Assert.Equal([("queued", 0, 1L), ("processing", 0, 2L), ("processing", 40, 3L), ("completed", 100, 4L), ("completed", 100, 4L)], states);
        Assert.Equal(("processing", 40, "segment 2"), (then.Str("status"), then.GetProperty("progress").GetInt32(), then.Str("message")));
        Assert.Equal("invalid_version", (await (await _client.GetAsync($"/jobs/{id}?atVersion=zero")).Json()).Str("code"));
        var before = await _client.GetAsync($"/jobs/{id}?asOf=2000-01-01T00:00:00Z");
        Assert.Equal("job_not_yet_submitted", (await before.Json()).Str("code"));
    }
}

public sealed class JobSearchTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Paging_through_a_search_while_jobs_are_added_shows_each_matching_job_once_newest_first()
    {
        var correlation = "batch-" + Guid.NewGuid();
        var submitted = new List<Guid>();
        for (var i = 0; i < 12; i++)
            submitted.Add(await Submit(correlation));
        await _client.SubmitTranscode();

        var seen = new List<Guid>();
        var next = $"/jobs?correlationId={correlation}&limit=5";
        while (next is not null)
        {
            var page = await (await _client.GetAsync(next)).Json();
            seen.AddRange(page.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetGuid()));
            // Newer jobs come before the cursor: they do not shift the pages still to come.
            await Submit(correlation);
            next = page.TryGetProperty("next", out var more) ? more.GetString() : null;
        }

        Assert.Equal(Enumerable.Reverse(submitted), seen);
    }

    [Fact]
    public async Task A_search_filters_by_status_and_type_within_the_tenant()
    {
        var correlation = "mixed-" + Guid.NewGuid();
        var queued = await Submit(correlation);
        var cancelled = await Submit(correlation);
        await _client.PostAsync($"/jobs/{cancelled}/cancel", null);
        await api.ClientFor("acme").PostJson("/jobs", $$$"""{"type":"transcode","input":{"fileId":"a"},"correlationId":"{{{correlation}}}"}""", Guid.NewGuid().ToString());

        async Task<List<Guid>> Ids(string url) =>
            [.. (await (await _client.GetAsync(url)).Json()).GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("jobId").GetGuid())];

        Assert.Equal([cancelled], await Ids($"/jobs?correlationId={correlation}&status=cancelled"));
        Assert.Equal([queued], await Ids($"/jobs?correlationId={correlation}&status=queued&type=transcode"));
        Assert.Empty(await Ids($"/jobs?correlationId={correlation}&type=report"));
    }

    [Theory]
    [InlineData("/events?after=-1", "after")]
    [InlineData("/events?limit=5000", "limit")]
    [InlineData("/events?from=yesterday", "from")]
    [InlineData("/jobs?status=done", "status")]
    [InlineData("/jobs?limit=0", "limit")]
    [InlineData("/jobs?cursor=nonsense", "cursor")]
    [InlineData("/jobs?createdFrom=soon", "createdFrom")]
    public async Task A_feed_or_search_query_that_makes_no_sense_is_400(string url, string field)
    {
        var response = await _client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty(field, out _));
    }

    private async Task<Guid> Submit(string correlationId)
    {
        var response = await _client.PostJson("/jobs", $$$"""{"type":"transcode","input":{"fileId":"a"},"correlationId":"{{{correlationId}}}"}""", Guid.NewGuid().ToString());
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }
}
