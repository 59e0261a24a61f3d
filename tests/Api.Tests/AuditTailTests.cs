using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventSourced.EventStore;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// The API with its runner, and a live-tail window of a few events (AuditTail:WindowBytes), so that tails fall behind the
/// window, read the database, and come back to it. Jobs of type "held" stay queued: no node runs them.
/// </summary>
public sealed class ApiWithASmallTailWindow : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        ["AuditTail:WindowBytes"] = "4000",
        ["Sse:KeepAlive"] = "00:00:00.300",
        ["Jobs:Types:held:External"] = "true",
        ["Runner:WorkerName"] = "runner-a",
    };
}

public sealed class AuditTailTests(ApiWithASmallTailWindow api) : IClassFixture<ApiWithASmallTailWindow>
{
    private static readonly TimeSpan Wait = Patience.Bound;

    [Fact]
    public async Task Fifty_tails_of_three_tenants_each_get_exactly_their_tenants_matching_events_in_order_while_jobs_run()
    {
        string[] tenants = [Tenants.Default, "acme", "globex"];
        var clients = tenants.ToDictionary(t => t, t => api.ClientFor(t));
        var start = await Horizon(clients[Tenants.Default]);
        // A moment between the two waves of jobs below, for the time filters.
        var middle = DateTimeOffset.UtcNow.AddSeconds(3);
        var moment = Uri.EscapeDataString(middle.ToString("O"));
        string[] filters =
        [
            "", "type=job.progressed", "jobType=report", "jobType=transcode&type=job.completed", "correlationId=audited", "actor=runner-a",
            "jobType=held&type=job.cancelled", $"from={moment}", $"to={moment}",
        ];
        var tails = new List<(HttpClient Client, string Filter, SseStream Stream)>();
        try
        {
            for (var i = 0; i < 50; i++)
            {
                var (client, filter) = (clients[tenants[i % tenants.Length]], filters[i % filters.Length]);
                tails.Add((client, filter, await SseStream.Open(client, $"/events/stream?after={start}&{filter}")));
            }
            await Task.WhenAll(tenants.Select(t => Wave(clients[t])));
            await Completed(clients.Values, start, 6);
            if (middle > DateTimeOffset.UtcNow)
                await Task.Delay(middle - DateTimeOffset.UtcNow);
            await Task.WhenAll(tenants.Select(t => Wave(clients[t])));
            await Completed(clients.Values, start, 12);

            await Task.WhenAll(tails.Select(async tail =>
            {
                var expected = (await Page(tail.Client, $"/events?after={start}&limit=1000&{tail.Filter}")).Events;
                var received = await Receive(tail.Stream, expected.Count);
                Assert.Equal(expected.Select(e => (e.Seq, e.Type, e.JobId)), received.Select(e => (e.Seq, e.Event!, e.Json.GetProperty("jobId").GetGuid())));
            }));
        }
        finally
        {
            foreach (var tail in tails)
                await tail.Stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_tail_resuming_from_before_the_window_gets_what_it_missed_from_the_database_and_then_the_new_events_without_a_gap_or_a_repeat()
    {
        var client = api.CreateClient();
        var start = await Horizon(client);
        // Keeps the window moving while the other tail is away.
        await using var keeper = await SseStream.Open(client, $"/events/stream?after={start}&type=job.submitted");
        SseEvent last;
        await using (var first = await SseStream.Open(client, $"/events/stream?after={start}&type=job.submitted"))
        {
            await SubmitHeld(client);
            last = (await first.Next(Wait))!;
        }
        for (var i = 0; i < 20; i++)
            await SubmitHeld(client);
        // The window holds a few events: the one last received left it long ago.
        await Receive(keeper, 21);

        await using var resumed = await SseStream.Open(client, "/events/stream?type=job.submitted", lastEventId: last.Id);
        var live = Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++)
                await SubmitHeld(client);
        });
        var received = await Receive(resumed, 30);
        await live;

        var expected = (await Page(client, $"/events?after={last.Seq}&type=job.submitted&limit=1000")).Events;
        Assert.Equal(30, expected.Count);
        Assert.Equal(expected.Select(e => e.Seq), received.Select(e => e.Seq));
    }

    private static async Task Wave(HttpClient client)
    {
        var held = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => SubmitHeld(client)));
        await Task.WhenAll(
        [
            .. Enumerable.Range(0, 4).Select(i => Submit(client, $$$"""{"type":"transcode","input":{"fileId":"t","steps":2,"stepMs":10}{{{(i % 2 == 0 ? ""","correlationId":"audited" """ : "")}}}}""")),
            .. Enumerable.Range(0, 2).Select(_ => Submit(client, """{"type":"report","input":{"reportType":"quarterly","year":2025}}""")),
            client.PostAsync($"/jobs/{held[0]}/cancel", null),
        ]);
    }

    /// <summary>Waits until each client's tenant has <paramref name="count"/> completed jobs since <paramref name="start"/>.</summary>
    private static Task Completed(IEnumerable<HttpClient> clients, long start, int count) =>
        Eventually.Get(() => Task.WhenAll(clients.Select(c => Page(c, $"/events?after={start}&type=job.completed"))),
            pages => pages.All(p => p.Events.Count == count), $"{count} jobs of each tenant to complete");

    private static Task<Guid> SubmitHeld(HttpClient client) => Submit(client, """{"type":"held","input":{}}""");

    private static async Task<Guid> Submit(HttpClient client, string body)
    {
        var response = await client.PostJson("/jobs", body, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    /// <summary>The next <paramref name="count"/> events of a tail, and then none within a moment: none is sent twice.</summary>
    private static async Task<List<SseEvent>> Receive(SseStream tail, int count)
    {
        var received = new List<SseEvent>();
        while (received.Count < count)
            received.Add(await tail.Next(Wait) ?? throw new InvalidOperationException("The tail ended."));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tail.Next(TimeSpan.FromMilliseconds(500)));
        return received;
    }

    private static async Task<long> Horizon(HttpClient client) => (await Page(client, "/events?limit=1")).Horizon;

    private sealed record Entry(long Seq, Guid JobId, string Type);

    private sealed record FeedPage(List<Entry> Events, long Horizon);

    private static async Task<FeedPage> Page(HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<FeedPage>(JsonSerializerOptions.Web))!;
    }
}
