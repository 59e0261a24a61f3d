using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.TestSupport;
using Marten;
using Marten.Services;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

public sealed class StatsTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Stats_count_each_types_endings_of_the_day_and_catch_up_with_the_feed()
    {
        for (var i = 0; i < 3; i++)
            await Finish(await _client.SubmitTranscode(), new CompleteJob(1, JsonDocument.Parse("{}").RootElement, "application/json"));
        await Finish(await _client.SubmitTranscode(), new FailAttempt(1, "boom", "It broke.", 0, Retryable: false));
        await _client.PostAsync($"/jobs/{await _client.SubmitTranscode()}/cancel", null);

        var stats = await Eventually.Get(async () => await (await _client.GetAsync("/stats")).Json(),
            s => s.GetProperty("lag").GetProperty("eventsBehind").GetInt64() == 0 && s.GetProperty("days").GetArrayLength() > 0, "the stats to catch up");

        var day = Assert.Single(stats.GetProperty("days").EnumerateArray());
        Assert.Equal(("transcode", 3L, 1L, 1L), (day.Str("type"), day.GetProperty("completed").GetInt64(), day.GetProperty("failed").GetInt64(), day.GetProperty("cancelled").GetInt64()));
        Assert.True(day.GetProperty("p99Ms").GetDouble() >= day.GetProperty("p50Ms").GetDouble());
    }

    [Fact]
    public async Task An_event_the_stats_cannot_read_is_set_aside_and_the_others_are_still_counted()
    {
        var broken = Guid.NewGuid();
        await using (var connection = new NpgsqlConnection(api.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            var options = SessionOptions.ForTransaction(transaction);
            options.TenantId = "broken";
            await using (var session = api.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession(options))
            {
                session.Events.StartStream<Job>(broken, new JobEvent.JobSubmitted(broken, "transcode", JsonDocument.Parse("{}").RootElement, null, null, "fp", "k", 3, 60,
                    new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), DateTimeOffset.UtcNow));
                await session.SaveChangesAsync();
            }
            // Stored by an older build, say: a job id that is not one.
            await using var corrupt = new NpgsqlCommand("UPDATE jobs.mt_events SET data = '{\"jobId\": 12}' WHERE stream_id = $1", connection, transaction);
            corrupt.Parameters.Add(new() { Value = broken });
            await corrupt.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }
        var afterBroken = api.ClientFor("after-broken");
        var after = await afterBroken.SubmitTranscode();
        (await afterBroken.PostJson($"/jobs/{after}/cancel", "{}", null)).EnsureSuccessStatusCode();

        var stats = await Eventually.Get(() => Stats("after-broken"), s => s.GetProperty("days").GetArrayLength() > 0, "the job after the broken event to be counted");

        Assert.Equal(1, Assert.Single(stats.GetProperty("days").EnumerateArray()).GetProperty("cancelled").GetInt64());
        Assert.Equal(1, await DeadLetters(broken));
    }

    private async Task<JsonElement> Stats(string tenant) => await (await api.ClientFor(tenant).GetAsync("/stats")).Json();

    private async Task Finish(Guid id, JobCommand outcome)
    {
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, outcome);
    }

    private async Task<long> DeadLetters(Guid streamId)
    {
        await using var connection = new NpgsqlConnection(api.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FROM jobs.mt_doc_deadletterevent AS d JOIN jobs.mt_events AS e ON e.seq_id = (d.data ->> 'eventSequence')::bigint
            WHERE e.stream_id = $1 AND d.data ->> 'projectionName' = 'job_stats'
            """, connection);
        command.Parameters.Add(new() { Value = streamId });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
