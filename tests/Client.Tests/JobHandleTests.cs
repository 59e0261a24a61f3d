using System.Net;
using System.Text.Json;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Client.Tests;

/// <summary>A job handle against the real service: watching, waiting by each strategy, status, cancel, result, history.</summary>
public sealed class JobHandleTests(Service service, ITestOutputHelper output) : IClassFixture<Service>
{
    private sealed record TranscodeResult(string FileId, string Output, int Segments);

    [Fact]
    public async Task Watching_a_job_yields_each_of_its_events_once_in_order_and_ends_after_the_final_one()
    {
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "watched", steps = 4, stepMs = 20 });

        var events = await Collect(job.WatchAsync());

        Assert.IsType<JobEvent.Queued>(events[0]);
        var completed = Assert.IsType<JobEvent.Completed>(events[^1]);
        Assert.Equal(new Uri(service.BaseAddress, $"/jobs/{job.Id}/result"), completed.ResultUrl);
        Assert.Equal([25, 50, 75, 100], events.OfType<JobEvent.Progressed>().Select(p => p.Percent));
        await AssertEveryEventOnceInOrder(job, events);
    }

    [Fact]
    public async Task A_watch_cut_in_the_middle_of_events_resumes_with_Last_Event_ID_and_yields_no_event_twice()
    {
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "cut", steps = 3, stepMs = 0 });
        await job.WaitForCompletionAsync(WaitStrategy.Poll);
        var traffic = new Traffic();
        traffic.CutStreams(streams: 3, afterEvents: 1);

        var events = await Collect(service.Client(traffic).Job(job.Id).WatchAsync());

        await AssertEveryEventOnceInOrder(job, events);
        var opened = traffic.To("GET", "/events").ToList();
        Assert.Equal(4, opened.Count);
        // Each reconnect names the last event received: the one before the cut.
        Assert.Equal([null, .. events.Take(3).Select(e => e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture))], opened.Select(o => o.LastEventId));
    }

    [Fact]
    public async Task A_watch_from_the_final_event_ends_at_once_on_the_services_204()
    {
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "finished", steps = 1, stepMs = 0 });
        var all = await Collect(job.WatchAsync());
        var traffic = new Traffic();

        var after = await Collect(service.Client(traffic).Job(job.Id).WatchAsync(afterEventId: all[^1].Sequence));

        Assert.Empty(after);
        Assert.Equal([204], traffic.To("GET", "/events").Select(e => e.Status));
    }

    [Fact]
    public async Task Asking_for_the_status_again_sends_its_ETag_and_an_unchanged_job_costs_a_304()
    {
        var traffic = new Traffic();
        var job = await service.Client(traffic).SubmitAsync("parked", new { fileId = "etag" });

        var first = await job.GetStatusAsync();
        var second = await job.GetStatusAsync();

        Assert.Equal(first, second);
        var reads = traffic.To("GET", $"/jobs/{job.Id}").ToList();
        Assert.Equal([200, 304], reads.Select(r => r.Status));
        Assert.Equal([null, $"\"{first.Version}\""], reads.Select(r => r.IfNoneMatch));
        await job.CancelAsync();
    }

    [Theory]
    [InlineData(WaitStrategy.Auto)]
    [InlineData(WaitStrategy.Stream)]
    [InlineData(WaitStrategy.LongPoll)]
    [InlineData(WaitStrategy.Poll)]
    public async Task Waiting_for_completion_by_each_strategy_ends_with_the_final_state(WaitStrategy strategy)
    {
        var traffic = new Traffic();
        var job = await service.Client(traffic).SubmitAsync("transcode", new { fileId = $"wait-{strategy}", steps = 5, stepMs = 300 });

        var final = await job.WaitForCompletionAsync(strategy);

        Assert.Equal(JobStatuses.Completed, final.Status);
        Assert.Equal(100, final.Progress);
        var reads = traffic.Exchanges.Where(e => e.Method == "GET").ToList();
        output.WriteLine($"{strategy}: {reads.Count} requests ({string.Join(", ", reads.Select(r => $"{r.Path.Split('/')[^1]} {r.Status}"))})");
        switch (strategy)
        {
            case WaitStrategy.Auto or WaitStrategy.Stream:
                Assert.Single(traffic.To("GET", "/events"));
                break;
            case WaitStrategy.LongPoll:
                Assert.Empty(traffic.To("GET", "/events"));
                Assert.Contains(reads, r => r.Prefer == "wait=30");
                break;
            case WaitStrategy.Poll:
                Assert.Empty(traffic.To("GET", "/events"));
                Assert.DoesNotContain(reads, r => r.Prefer is not null);
                Assert.All(reads.Skip(1), r => Assert.NotNull(r.IfNoneMatch));
                break;
        }
    }

    [Fact]
    public async Task Waiting_falls_back_to_long_polling_when_a_proxy_does_not_pass_the_event_stream()
    {
        var traffic = new Traffic { Proxy = r => r.RequestUri!.AbsolutePath.EndsWith("/events", StringComparison.Ordinal) ? Traffic.ProxyPage() : null };
        var job = await service.Client(traffic).SubmitAsync("transcode", new { fileId = "behind-a-proxy", steps = 3, stepMs = 300 });

        var final = await job.WaitForCompletionAsync();

        Assert.Equal(JobStatuses.Completed, final.Status);
        Assert.Single(traffic.To("GET", "/events"));
        Assert.Contains(traffic.To("GET", $"/jobs/{job.Id}"), r => r.Prefer == "wait=30");
    }

    [Fact]
    public async Task Cancelling_a_queued_job_cancels_it_and_its_watch_ends_with_cancelled()
    {
        var job = await service.Client().SubmitAsync("parked", new { fileId = "cancel-me" });

        var accepted = await job.CancelAsync("user left");

        Assert.Equal(JobStatuses.Cancelled, accepted.Status);
        var events = await Collect(job.WatchAsync());
        Assert.IsType<JobEvent.Cancelled>(events[^1]);
        Assert.Contains(events, e => e.Reason == "user left");
        Assert.Equal(JobStatuses.Cancelled, (await job.WaitForCompletionAsync()).Status);
    }

    [Fact]
    public async Task Cancelling_at_a_version_the_job_has_moved_past_is_a_typed_412_with_the_current_version()
    {
        var job = await service.Client().SubmitAsync("parked", new { fileId = "moved-on" });
        var read = await job.GetStatusAsync();

        var mismatch = await Assert.ThrowsAsync<VersionMismatchException>(() => job.CancelAsync(ifVersion: read.Version + 5));

        Assert.Equal(read.Version, mismatch.CurrentVersion);
        Assert.Equal("version_mismatch", mismatch.Code);
        var cancelled = await job.CancelAsync(ifVersion: read.Version);
        Assert.Equal(JobStatuses.Cancelled, cancelled.Status);
    }

    [Fact]
    public async Task Cancelling_a_completed_job_is_a_problem_with_its_code()
    {
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "done", steps = 1, stepMs = 0 });
        await job.WaitForCompletionAsync();

        var problem = await Assert.ThrowsAsync<JobsApiException>(() => job.CancelAsync());

        Assert.Equal(HttpStatusCode.Conflict, problem.Status);
        Assert.Equal("job_already_finished", problem.Code);
    }

    [Fact]
    public async Task The_result_comes_as_the_type_asked_for_and_before_completion_is_a_job_not_completed_problem()
    {
        var parked = await service.Client().SubmitAsync("parked", new { fileId = "no-result" });
        var early = await Assert.ThrowsAsync<JobsApiException>(() => parked.GetResultAsync<TranscodeResult>());
        Assert.Equal("job_not_completed", early.Code);
        await parked.CancelAsync();

        var job = await service.Client().SubmitAsync("transcode", new { fileId = "typed", steps = 2, stepMs = 0 });
        await job.WaitForCompletionAsync();
        var result = await job.GetResultAsync<TranscodeResult>();
        Assert.Equal(new TranscodeResult("typed", "typed.mp4", 2), result);

        var report = await service.Client().SubmitAsync("report", new { reportType = "annual", year = 2025 });
        await report.WaitForCompletionAsync();
        var csv = await report.GetResultAsync<string>();
        Assert.Contains(',', csv);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(csv));
    }

    [Fact]
    public async Task The_history_has_every_stored_event_of_the_job()
    {
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "history", steps = 2, stepMs = 0 });
        await job.WaitForCompletionAsync();

        var history = await job.GetHistoryAsync();

        Assert.Equal(job.Id, history.JobId);
        Assert.Equal(["job.submitted", "job.started", "job.progressed", "job.progressed", "job.completed"], history.Events.Select(e => e.Type));
        Assert.Equal(Enumerable.Range(1, 5).Select(v => (long)v), history.Events.Select(e => e.Version));
    }

    /// <summary>The events watched are exactly the job's events as stored (those the stream sends), each once, in order.</summary>
    private static async Task AssertEveryEventOnceInOrder(JobHandle job, IReadOnlyList<JobEvent> watched)
    {
        var stored = (await job.GetHistoryAsync()).Events.Where(e => !e.Type.StartsWith("webhook.", StringComparison.Ordinal)).ToList();
        Assert.Equal(stored.Select(e => e.Seq), watched.Select(e => e.Sequence));
        Assert.Equal(stored.Select(e => e.Type), watched.Select(e => e.EventType));
        Assert.True(watched[^1].IsFinal);
    }

    private static async Task<List<JobEvent>> Collect(IAsyncEnumerable<JobEvent> events)
    {
        using var bound = new CancellationTokenSource(Patience.Bound);
        var list = new List<JobEvent>();
        await foreach (var e in events.WithCancellation(bound.Token))
            list.Add(e);
        return list;
    }
}
