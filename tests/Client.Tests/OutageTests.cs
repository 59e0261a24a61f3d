using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using EventSourced.TestSupport;
using Xunit.Abstractions;

namespace EventSourced.Client.Tests;

/// <summary>The service goes away while a client works with it: its database is unreachable, or its process is killed and started again.</summary>
public sealed class OutageTests(Service service, ITestOutputHelper output) : IClassFixture<Service>
{
    [Fact]
    public async Task A_submission_answered_503_while_the_database_is_away_is_retried_with_the_same_key_until_it_is_taken()
    {
        var traffic = new Traffic();
        var client = service.Client(traffic, Service.Fast);
        Task<JobHandle> submitted;
        await service.Database.SetConnectionsAllowed(false);
        try
        {
            submitted = client.SubmitAsync("transcode", new { fileId = "during-an-outage", steps = 1, stepMs = 0 });
            await Eventually.Get(() => Task.FromResult(traffic.To("POST", "/jobs").Select(e => e.Status).ToList()), statuses => statuses.Contains(503),
                "the service to answer 503 while its database is away");
        }
        finally
        {
            await service.Database.SetConnectionsAllowed(true);
        }

        var job = await submitted;

        var posts = traffic.To("POST", "/jobs").ToList();
        Assert.Equal(202, posts[^1].Status);
        Assert.All(posts.SkipLast(1), p => Assert.True(p.Status is null or >= 500, $"a retry after {p.Status}"));
        Assert.Single(posts.Select(p => p.IdempotencyKey).Distinct());
        Assert.Equal(JobStatuses.Completed, (await job.WaitForCompletionAsync()).Status);
    }

    [Fact]
    public async Task A_watch_resumes_across_a_kill_and_restart_of_the_service_and_yields_every_event_once_in_order()
    {
        var traffic = new Traffic();
        var job = await service.Client(traffic).SubmitAsync("manual", new { fileId = "survives-a-restart" });
        var watched = new ConcurrentQueue<JobEvent>();
        using var bound = new CancellationTokenSource(Patience.Bound);
        var watch = Task.Run(async () =>
        {
            await foreach (var e in job.WatchAsync(ct: bound.Token))
                watched.Enqueue(e);
        });
        var (token, claimed) = await Claim();
        Assert.Equal(job.Id, claimed);
        await Report(job.Id, "progress", new { leaseToken = token, percent = 30 });
        await Eventually.Get(() => Task.FromResult(watched.OfType<JobEvent.Progressed>().Count()), n => n == 1, "the watch to see 30 %");

        await service.KillAndRestart();
        var sinceRestart = System.Diagnostics.Stopwatch.StartNew();
        await Report(job.Id, "progress", new { leaseToken = token, percent = 60 });
        await Eventually.Get(() => Task.FromResult(watched.OfType<JobEvent.Progressed>().Count()), n => n == 2, "the watch to see 60 %");
        output.WriteLine($"The watch had the first event after the restart {sinceRestart.ElapsedMilliseconds} ms after the service was healthy again.");
        await Report(job.Id, "complete", new { leaseToken = token, result = new { url = "https://cdn.example/t.png" } });
        await watch;

        var events = watched.ToList();
        Assert.Equal([30, 60], events.OfType<JobEvent.Progressed>().Select(p => p.Percent));
        var stored = (await job.GetHistoryAsync()).Events.Where(e => !e.Type.StartsWith("webhook.", StringComparison.Ordinal));
        Assert.Equal(stored.Select(e => e.Seq), events.Select(e => e.Sequence));
        Assert.IsType<JobEvent.Completed>(events[^1]);
        // It reconnected after the kill, from the last event it had.
        var before = events.OfType<JobEvent.Progressed>().First().Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(traffic.To("GET", "/events"), e => e.LastEventId == before);
    }

    private async Task<(string Token, Guid JobId)> Claim()
    {
        using var worker = service.Http();
        var work = await Eventually.Get(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/workers/claims")
            {
                Content = JsonContent.Create(new { types = new[] { "manual" }, leaseSeconds = 600, worker = "test" }),
            };
            request.Headers.Add("Prefer", "wait=5");
            using var response = await worker.SendAsync(request);
            return response.StatusCode == System.Net.HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>() : (JsonElement?)null;
        }, w => w is not null, "a job to claim");
        return (work!.Value.GetProperty("leaseToken").GetString()!, work.Value.GetProperty("jobId").GetGuid());
    }

    /// <summary>A worker's report, on a connection of its own: one to the killed process is gone.</summary>
    private async Task Report(Guid jobId, string what, object body)
    {
        using var worker = service.Http();
        using var response = await worker.PostAsJsonAsync($"/workers/jobs/{jobId}/{what}", body);
        Assert.True(response.IsSuccessStatusCode, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
