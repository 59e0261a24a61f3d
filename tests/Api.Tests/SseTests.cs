using System.Net;
using System.Text.Json;
using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

public sealed class SseTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();
    private static readonly JsonElement Output = JsonDocument.Parse("""{"output":"movie.mp4"}""").RootElement;

    [Fact]
    public async Task The_stream_is_unbuffered_event_stream_whose_ids_are_sequence_numbers()
    {
        var id = await _client.SubmitTranscode();
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");

        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.True(stream.Response.Headers.CacheControl?.NoCache);
        Assert.Equal("no", Assert.Single(stream.Response.Headers.GetValues("X-Accel-Buffering")));

        var queued = (await stream.Next())!;
        Assert.Equal(TimeSpan.FromSeconds(3), stream.Retry);
        Assert.Equal("queued", queued.Event);
        var seq = await api.Database.Scalar<long>("SELECT seq_id FROM jobs.mt_events WHERE stream_id = $1 AND version = 1", id);
        Assert.Equal(seq, queued.Seq);
        var data = queued.Json;
        Assert.Equal((id.ToString(), "job.submitted", "queued", 0, 1, "transcode"),
            (data.Str("jobId"), data.Str("eventType"), data.Str("status"), data.GetProperty("progress").GetInt32(), data.GetProperty("version").GetInt32(), data.Str("jobType")));
    }

    [Fact]
    public async Task A_reconnect_with_the_last_event_id_gets_exactly_the_events_it_missed()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));

        string lastId;
        await using (var first = await SseStream.Open(_client, $"/jobs/{id}/events"))
        {
            Assert.Equal("queued", (await first.Next())!.Event);
            var processing = (await first.Next())!;
            Assert.Equal("processing", processing.Event);
            lastId = processing.Id!;
        }

        await api.Drive(id, new ReportProgress(1, 30, "a third"));
        await api.Drive(id, new ReportProgress(1, 60, "two thirds"));
        await api.Drive(id, new CompleteJob(1, Output, "application/json"));

        await using var reconnected = await SseStream.Open(_client, $"/jobs/{id}/events", lastEventId: lastId);
        var missed = await reconnected.ReadToEnd();

        Assert.Equal(["progress", "progress", "completed"], missed.Select(e => e.Event));
        Assert.Equal([30, 60, 100], missed.Select(e => e.Json.GetProperty("progress").GetInt32()));
        Assert.Equal(await Seqs(id, afterVersion: 2), missed.Select(e => e.Seq));
        Assert.Equal($"http://localhost/jobs/{id}/result", missed[^1].Json.Str("resultUrl"));
    }

    [Fact]
    public async Task Events_stream_live_whichever_process_appends_them_and_the_stream_ends_after_the_final_one()
    {
        var id = await _client.SubmitTranscode();
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        Assert.Equal("queued", (await stream.Next())!.Event);

        // Another process: its own Marten store, reaching this one only through PostgreSQL.
        using var otherProcess = JobStoreProcess.On(api.Database.ConnectionString);
        await otherProcess.Execute(id, new StartJob("node-b"));
        Assert.Equal("processing", (await stream.Next())!.Event);
        await otherProcess.Execute(id, new ReportProgress(1, 50, null));
        Assert.Equal(50, (await stream.Next())!.Json.GetProperty("percent").GetInt32());
        await otherProcess.Execute(id, new FailAttempt(1, "disk_full", "No space left.", 0, Retryable: false));

        var failed = (await stream.Next())!;
        Assert.Equal("failed", failed.Event);
        Assert.Equal("disk_full", failed.Json.GetProperty("error").Str("code"));
        Assert.Null(await stream.Next());
    }

    [Fact]
    public async Task Every_event_arrives_once_and_in_order_while_events_land_during_the_replay()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        var appending = Task.Run(async () =>
        {
            for (var percent = 1; percent <= 60; percent++)
                await api.Drive(id, new ReportProgress(1, percent, null));
            await api.Drive(id, new CompleteJob(1, Output, "application/json"));
        });

        await Task.Delay(5);
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        var events = await stream.ReadToEnd();
        await appending;

        Assert.Equal(await Seqs(id), events.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(1, 60), events.Where(e => e.Event == "progress").Select(e => e.Json.GetProperty("percent").GetInt32()));
    }

    [Fact]
    public async Task A_reconnect_that_already_has_the_final_event_gets_204_so_the_client_stops()
    {
        var id = await _client.SubmitTranscode();
        await _client.PostAsync($"/jobs/{id}/cancel", null);
        var final = (await Seqs(id))[^1];

        await using var header = await SseStream.Open(_client, $"/jobs/{id}/events", lastEventId: final.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.NoContent, header.Response.StatusCode);
        var query = await _client.GetAsync($"/jobs/{id}/events?lastEventId={final}");
        Assert.Equal(HttpStatusCode.NoContent, query.StatusCode);
    }

    [Fact]
    public async Task Clients_that_cannot_set_headers_resume_with_the_lastEventId_query_parameter()
    {
        var id = await _client.SubmitTranscode();
        await _client.PostAsync($"/jobs/{id}/cancel", null);
        var seqs = await Seqs(id);

        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events?lastEventId={seqs[0]}");
        var events = await stream.ReadToEnd();

        Assert.Equal(seqs.Skip(1), events.Select(e => e.Seq));
        Assert.Equal("cancelled", events[^1].Event);
    }

    [Fact]
    public async Task A_retry_a_hand_back_and_a_redrive_each_queue_the_job_again_and_say_why()
    {
        var id = await _client.SubmitTranscode();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new FailAttempt(1, "transient", "Try again.", 0));
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new ReleaseJob(2, "The node is shutting down."));
        await api.Drive(id, new StartJob("node-b"));
        await api.Drive(id, new FailAttempt(3, "fatal", "Cannot be done.", 0, Retryable: false));

        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        var events = await stream.ReadToEnd();
        Assert.Equal(
            ["queued job.submitted", "processing job.started", "queued job.attempt_failed", "processing job.started", "queued job.released", "processing job.started", "failed job.failed"],
            events.Select(e => $"{e.Event} {e.Json.Str("eventType")}"));
        Assert.Equal("transient", events[2].Json.GetProperty("error").Str("code"));
        Assert.True(events[2].Json.TryGetProperty("retryAt", out _));
        Assert.Equal("The node is shutting down.", events[4].Json.Str("reason"));

        await api.Drive(id, new RedriveJob("Disk replaced."));
        await using var resumed = await SseStream.Open(_client, $"/jobs/{id}/events", lastEventId: events[^1].Id);
        var redriven = (await resumed.Next())!;
        Assert.Equal(("queued", "job.redriven", "Disk replaced."), (redriven.Event, redriven.Json.Str("eventType"), redriven.Json.Str("reason")));
    }

    [Fact]
    public async Task An_idle_stream_sends_keepalive_comments()
    {
        var id = await _client.SubmitTranscode();
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events");
        await stream.Next();

        Assert.Equal("keepalive", await stream.NextComment());
        Assert.Equal("keepalive", await stream.NextComment());
    }

    [Theory]
    [InlineData("seven")]
    [InlineData("-1")]
    public async Task A_last_event_id_that_is_not_an_event_id_is_400(string lastEventId)
    {
        var id = await _client.SubmitTranscode();
        await using var stream = await SseStream.Open(_client, $"/jobs/{id}/events", lastEventId);
        Assert.Equal(HttpStatusCode.BadRequest, stream.Response.StatusCode);
        Assert.Equal("application/problem+json", stream.Response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<List<long>> Seqs(Guid id, long afterVersion = 0) =>
        [.. (await api.Events(id)).Where(e => e.Version > afterVersion).Select(e => e.Sequence)];
}
