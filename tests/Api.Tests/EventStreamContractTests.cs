using System.Net;
using System.Text;
using System.Text.Json;
using EventSourced.Api.Audit;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Tests;

/// <summary>
/// The event streams' AsyncAPI document (docs/api/asyncapi.json) against the code: every event name the service can send
/// is in it, and the check that <see cref="SseStream"/> makes of every event a test reads catches one that breaks it.
/// </summary>
public sealed class EventStreamContractTests
{
    private const string Job = "/jobs/0193a5c2-7d1e-5f3a-9b4c-2d6e8f0a1b3c/events";
    private const string Common = """
        "jobId":"0193a5c2-7d1e-5f3a-9b4c-2d6e8f0a1b3c","attempt":1,"version":5,"timestamp":"2026-12-05T08:00:00.1234567+00:00"
        """;

    [Fact]
    public void Every_event_name_the_service_can_send_is_a_message_of_its_stream()
    {
        // A job's stream names an event by the job's status after it, or "progress", or "waiting" (JobEventsEndpoint.EventName).
        string[] jobEvents = [.. Enum.GetValues<JobStatus>().Select(JobDecider.Name), "progress", "waiting"];
        Assert.Equal(jobEvents.Order(), AsyncApiContract.MessageNames("/jobs/{id}/events").Order());
        // The audit feed names it by the type it is stored under.
        Assert.Equal(JobEvent.TypeNames.Keys.Order(), AsyncApiContract.MessageNames("/events/stream").Order());
    }

    [Fact]
    public void The_documents_examples_match_its_schemas()
    {
        var examples = AsyncApiContract.Examples().ToList();
        Assert.NotEmpty(examples);
        foreach (var (address, e) in examples)
            Assert.Empty(AsyncApiContract.Problems(address.Replace("{id}", Guid.NewGuid().ToString(), StringComparison.Ordinal), e));
    }

    /// <summary>
    /// Every stored event type, with and without its optional values, as the audit feed writes it (<see cref="AuditEvent.From"/>
    /// serializes the event by its own type): also those no stream test happens to send, such as the callbacks' records.
    /// </summary>
    [Fact]
    public void Every_stored_event_type_as_the_audit_feed_sends_it_matches_its_message()
    {
        var (id, at) = (Guid.CreateVersion7(), new DateTimeOffset(2026, 12, 5, 8, 0, 0, 123, TimeSpan.Zero));
        var input = JsonDocument.Parse("""{"fileId":"movie-1","steps":5}""").RootElement;
        var error = new JobError("disk_full", "No space left.");
        JobEvent[] events =
        [
            new JobSubmitted(id, "transcode", input, null, null, "3f2a", "order-42", 3, 300, new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)), at),
            new JobSubmitted(id, "report", input, "https://example.com/hooks", "order-42", "3f2a", "order-42", 1, 604_800, new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromDays(1)), at, 2, ["progress", "completed"]),
            new JobStarted(id, 1, "node-1", at),
            new JobProgressed(id, 1, 40, null, at),
            new JobProgressed(id, 1, 100, "done", at),
            new JobSuspended(id, 1, "payment provider", at.AddMinutes(15), at),
            new JobCompleted(id, input, "application/json", at),
            new JobCompleted(id, JsonSerializer.SerializeToElement("period,orders\n2025-01,3\n"), "text/csv", at),
            new JobAttemptFailed(id, 1, error, at.AddSeconds(2), at),
            new JobFailed(id, 2, error, at),
            new JobReleased(id, 1, "The node is shutting down.", at),
            new JobRedriven(id, null, at),
            new JobRedriven(id, "disk replaced", at, 5, 60),
            new JobCancellationRequested(id, null, at),
            new JobCancellationRequested(id, "user left", at),
            new JobCancelled(id, at),
            new WebhookAttempted(id, "msg_1", 7, 1, null, "no answer", at.AddSeconds(5), at),
            new WebhookAttempted(id, "msg_1", 7, 2, 503, "the receiver answered 503", at.AddMinutes(5), at),
            new WebhookDelivered(id, "msg_1", 7, 3, 204, at),
            new WebhookAbandoned(id, "msg_1", 7, 10, 410, "The receiver answered 410 Gone.", at),
            new WebhookAbandoned(id, "msg_1", 7, 10, null, "No attempt is left.", at),
        ];
        Assert.Equal(JobEvent.TypeNames.Values.ToHashSet(), events.Select(e => e.GetType()).ToHashSet());

        foreach (var (e, seq) in events.Select((e, i) => (e, i + 41L)))
        {
            var type = JobEvent.TypeNames.Single(name => name.Value == e.GetType()).Key;
            var audit = new AuditEvent(seq, id, seq - 40, type, at, JsonSerializer.SerializeToElement(e, e.GetType(), JsonSerializerOptions.Web),
                new EventMetadata("order-42", seq % 2 == 0 ? null : "req-1", "key:98f5206173aa"));
            var data = JsonSerializer.Serialize(audit, AuditEvent.Json);
            Assert.Empty(AsyncApiContract.Problems("/events/stream", new SseEvent(seq.ToString(System.Globalization.CultureInfo.InvariantCulture), type, data)));
        }
    }

    [Theory]
    [InlineData("completed", "59", $$"""{{{Common}},"eventType":"job.completed","status":"completed","progress":100,"resultContentType":"application/json"}""", "a completed event without its resultUrl")]
    [InlineData("progress", "59", $$"""{{{Common}},"eventType":"job.progressed","status":"processing","progress":40,"percent":40,"percentage":40}""", "a field the document does not name")]
    [InlineData("progress", "59", $$"""{{{Common}},"eventType":"job.progressed","status":"processing","progress":40,"percent":"40"}""", "a number sent as a string")]
    [InlineData("queued", "59", $$"""{{{Common}},"eventType":"job.started","status":"processing","progress":0,"worker":"node-1"}""", "a processing event named queued")]
    [InlineData("processing", "59", """{"jobId":"0193a5c2-7d1e-5f3a-9b4c-2d6e8f0a1b3c","eventType":"job.started","status":"processing","progress":0,"attempt":1,"version":2,"timestamp":"yesterday","worker":"node-1"}""", "a timestamp that is not a moment")]
    [InlineData("retrying", "59", $$"""{{{Common}},"eventType":"job.attempt_failed","status":"queued","progress":0}""", "an event name the document does not have")]
    [InlineData("cancelled", "not-a-seq", $$"""{{{Common}},"eventType":"job.cancelled","status":"cancelled","progress":0}""", "an id that is not a sequence number")]
    [InlineData("cancelled", "59", """{"jobId":"job-1","eventType":"job.cancelled","status":"cancelled","progress":0,"attempt":1,"version":5,"timestamp":"2026-12-05T08:00:00Z"}""", "a job id that is not a UUID")]
    [InlineData("failed", "59", $$"""{{{Common}},"eventType":"job.failed","error":{"code":"x"},"status":"failed","progress":0}""", "an error without its message")]
    [InlineData("failed", "59", "not json", "data that is not JSON")]
    public void An_event_that_breaks_the_document_is_caught(string name, string id, string data, string because)
    {
        Assert.True(AsyncApiContract.Problems(Job, new SseEvent(id, name, data)).Count > 0, because);
    }

    [Fact]
    public void An_audit_event_that_breaks_the_document_is_caught()
    {
        const string cancelled = """
            {"seq":59,"jobId":"0193a5c2-7d1e-5f3a-9b4c-2d6e8f0a1b3c","version":3,"type":"job.cancelled","timestamp":"2026-12-05T08:00:00+00:00",
             "data":{"jobId":"0193a5c2-7d1e-5f3a-9b4c-2d6e8f0a1b3c","at":"2026-12-05T08:00:00+00:00"},"metadata":{"correlationId":"order-42","causationId":null,"actor":"key:98f5206173aa"}}
            """;
        Assert.Empty(AsyncApiContract.Problems("/events/stream", new SseEvent("59", "job.cancelled", cancelled)));

        // The stored event's own fields, the envelope's, and the name that must be its type.
        Assert.NotEmpty(AsyncApiContract.Problems("/events/stream", new SseEvent("59", "job.cancelled", cancelled.Replace("\"at\":", "\"when\":", StringComparison.Ordinal))));
        Assert.NotEmpty(AsyncApiContract.Problems("/events/stream", new SseEvent("59", "job.cancelled", cancelled.Replace("\"actor\":\"key:98f5206173aa\"", "\"actor\":42", StringComparison.Ordinal))));
        Assert.NotEmpty(AsyncApiContract.Problems("/events/stream", new SseEvent("59", "job.failed", cancelled)));
        Assert.NotEmpty(AsyncApiContract.Problems("/events", new SseEvent("59", "job.cancelled", cancelled)));
    }

    [Fact]
    public async Task A_test_that_reads_an_event_that_breaks_the_document_fails()
    {
        var body = $$"""
            retry: 3000

            id: 41
            event: cancelled
            data: {{{Common}},"eventType":"job.cancelled","status":"cancelled","progress":0}

            id: 42
            event: cancelled
            data: {{{Common}},"eventType":"job.cancelled","status":"canceled","progress":0}


            """;
        using var client = new HttpClient(new Canned(body)) { BaseAddress = new Uri("http://localhost") };
        await using var stream = await SseStream.Open(client, Job);

        Assert.Equal("41", (await stream.Next())!.Id);
        var failure = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() => stream.Next());
        Assert.Contains("canceled", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A server that answers every request with one text/event-stream body.</summary>
    private sealed class Canned(string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                RequestMessage = request,
                Content = new StringContent(body.ReplaceLineEndings("\n"), Encoding.UTF8, "text/event-stream"),
            });
    }
}
