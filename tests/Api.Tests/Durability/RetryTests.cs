using System.Net;
using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Tests.Durability;

/// <summary>Handlers that fail or hang: attempts, backoff, time-outs, dead letters and re-driving them.</summary>
public sealed class RetryTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task A_handler_that_always_throws_is_retried_with_growing_jittered_gaps_then_dead_lettered_then_redriven_to_completion()
    {
        await using var node = await Nodes.Start(db.ConnectionString, "node-a");
        var client = node.Client();
        var id = await client.Submit("flaky", """{"failAttempts":3}""");
        await client.WaitForStatus(id, "failed");

        var history = await Nodes.History(db.ConnectionString, id);
        Assert.Equal([1, 2, 3], history.OfType<JobStarted>().Select(s => s.Attempt));
        var retries = history.OfType<JobAttemptFailed>().ToList();
        Assert.Equal([1, 2], retries.Select(r => r.Attempt));
        Assert.All(retries, r => Assert.Equal("handler_error", r.Error.Code));
        // Full jitter: each gap is drawn from a window that doubles (200 ms, then 400 ms), and the next attempt waits for it.
        Assert.InRange(retries[0].RetryAt - retries[0].At, TimeSpan.Zero, TimeSpan.FromMilliseconds(200));
        Assert.InRange(retries[1].RetryAt - retries[1].At, TimeSpan.Zero, TimeSpan.FromMilliseconds(400));
        var starts = history.OfType<JobStarted>().ToList();
        Assert.True(starts[1].At >= retries[0].RetryAt && starts[2].At >= retries[1].RetryAt);
        Assert.Equal((3, "handler_error"), (history.OfType<JobFailed>().Single().Attempt, history.OfType<JobFailed>().Single().Error.Code));

        var deadLetters = await (await client.GetAsync("/dead-letters")).Json();
        var letter = Assert.Single(deadLetters.GetProperty("items").EnumerateArray(), l => l.Str("jobId") == id.ToString());
        Assert.Equal(("flaky", 3, "handler_error"), (letter.Str("type"), letter.GetProperty("attempts").GetInt32(), letter.GetProperty("error").Str("code")));

        var redriven = await client.PostAsync($"/jobs/{id}/retry", new StringContent("""{"reason":"deployed the fix"}""", null, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, redriven.StatusCode);
        // A fresh set of three attempts after the three used: attempt 4 of at most 6, never past the limit.
        var again = await redriven.Json();
        Assert.Equal((3, 6), (again.GetProperty("attempt").GetInt32(), again.GetProperty("maxAttempts").GetInt32()));
        await client.WaitForStatus(id, "completed");
        var completed = await (await client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal((4, 6), (completed.GetProperty("attempt").GetInt32(), completed.GetProperty("maxAttempts").GetInt32()));
        Assert.DoesNotContain((await (await client.GetAsync("/dead-letters")).Json()).GetProperty("items").EnumerateArray(), l => l.Str("jobId") == id.ToString());
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"/jobs/{id}/retry", null)).StatusCode);
    }

    [Fact]
    public async Task A_handler_that_hangs_is_stopped_at_its_time_out_and_retried()
    {
        await using var node = await Nodes.Start(db.ConnectionString, "node-a");
        var client = node.Client();
        var id = await client.Submit("hang", "{}", extra: ""","timeoutSeconds":1,"maxAttempts":2""");
        await client.WaitForStatus(id, "failed");

        var history = await Nodes.History(db.ConnectionString, id);
        Assert.Equal([1, 2], history.OfType<JobStarted>().Select(s => s.Attempt));
        Assert.Equal("timeout", Assert.Single(history.OfType<JobAttemptFailed>()).Error.Code);
        Assert.Equal("timeout", history.OfType<JobFailed>().Single().Error.Code);
        var status = await (await client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal(("failed", 2, "timeout"), (status.Str("status"), status.GetProperty("maxAttempts").GetInt32(), status.GetProperty("error").Str("code")));
    }
}
