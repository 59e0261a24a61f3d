using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using EventSourced.TestSupport;
using Npgsql;
using Xunit.Abstractions;
using static EventSourced.Domain.Jobs.JobEvent;

namespace EventSourced.Api.Tests.Durability;

/// <summary>The database restarts while two nodes are busy: clients retry, nodes reconnect, nothing is lost or doubled.</summary>
public sealed class DatabaseRestartTests(ITestOutputHelper output)
{
    private const string Job = """{"type":"transcode","input":{"fileId":"restart","steps":5,"stepMs":100}}""";

    [Fact]
    public async Task After_a_database_restart_under_load_every_accepted_job_completes_once_and_sse_clients_resume_where_they_were()
    {
        await using var cluster = await PostgresCluster.Start();
        (string, string) lease = ("Runner__LeaseDuration", "00:00:05");
        await using var a = await Nodes.Start(cluster.ConnectionString, "node-a", lease);
        await using var b = await Nodes.Start(cluster.ConnectionString, "node-b", lease);
        HttpClient[] clients = [a.Client(), b.Client()];

        var accepted = new ConcurrentDictionary<string, Guid>();
        using var stopLoad = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 4).Select(submitter => Task.Run(async () =>
        {
            for (var n = 0; !stopLoad.IsCancellationRequested; n++)
            {
                var key = $"{submitter}-{n}";
                accepted[key] = await SubmitUntilAccepted(clients[n % 2], key);
            }
        })));
        await Eventually.Get(() => Task.FromResult(accepted.Count), count => count >= 20, "the load to get going");
        var followed = accepted.Values.Take(4).ToList();
        var followers = followed.Select((id, i) => Follow(clients[i % 2], id)).ToList();

        var outage = Stopwatch.StartNew();
        await cluster.Stop();
        await Task.Delay(TimeSpan.FromSeconds(1));
        await cluster.Restart();
        output.WriteLine($"The database was down for {outage.Elapsed.TotalSeconds:F1} s.");
        await Eventually.Get(() => Task.FromResult(accepted.Count), count => count >= 60, "the load to carry on after the restart");
        await stopLoad.CancelAsync();
        await load;

        await using var db = NpgsqlDataSource.Create(cluster.ConnectionString);
        var ids = accepted.Values.ToArray();
        var clock = Stopwatch.StartNew();
        await Eventually.Get(async () =>
        {
            await using var count = db.CreateCommand("SELECT count(*) FROM jobs.mt_doc_job_status WHERE status = 'Completed' AND id = ANY($1)");
            count.Parameters.Add(new() { Value = ids });
            return (long)(await count.ExecuteScalarAsync())!;
        }, done => done == ids.Length, "every accepted job to complete", TimeSpan.FromMinutes(2));
        output.WriteLine($"{ids.Length} jobs accepted; all completed {clock.Elapsed.TotalSeconds:F1} s after the load stopped.");

        // One job per key, however often a submission was retried.
        await using (var streams = db.CreateCommand("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'"))
            Assert.Equal(ids.Length, (long)(await streams.ExecuteScalarAsync())!);
        var retried = 0;
        foreach (var id in ids)
        {
            var history = await Nodes.History(cluster.ConnectionString, id);
            var attempts = history.OfType<JobStarted>().Select(s => s.Attempt).ToList();
            Assert.Equal(Enumerable.Range(1, attempts.Count), attempts);
            Assert.Single(history.OfType<JobCompleted>());
            retried += attempts.Count > 1 ? 1 : 0;
        }
        output.WriteLine($"{retried} jobs needed a second attempt (their lease ran out during the outage).");

        foreach (var (follower, id) in followers.Zip(followed))
        {
            var events = await follower;
            await using var seqs = db.CreateCommand("SELECT array_agg(seq_id ORDER BY version) FROM jobs.mt_events WHERE stream_id = $1");
            seqs.Parameters.Add(new() { Value = id });
            Assert.Equal((long[])(await seqs.ExecuteScalarAsync())!, events.Select(e => e.Seq));
        }
    }

    /// <summary>What a well-behaved client does: retries with the same Idempotency-Key until the job is accepted.</summary>
    private static async Task<Guid> SubmitUntilAccepted(HttpClient client, string key)
    {
        while (true)
        {
            try
            {
                var response = await client.PostJson("/jobs", Job, key);
                if (response.StatusCode == HttpStatusCode.Accepted)
                    return (await response.Json()).GetProperty("jobId").GetGuid();
                Assert.True((int)response.StatusCode >= 500, $"A submission was refused with {response.StatusCode}.");
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
    }

    /// <summary>What EventSource does: follows the job, reconnecting with the last id it got, until the final event.</summary>
    private static async Task<List<SseEvent>> Follow(HttpClient client, Guid id)
    {
        var received = new List<SseEvent>();
        while (true)
        {
            try
            {
                await using var stream = await SseStream.Open(client, $"/jobs/{id}/events", received.LastOrDefault()?.Id);
                if (stream.Response.StatusCode == HttpStatusCode.NoContent)
                    return received;
                if (stream.Response.IsSuccessStatusCode)
                {
                    while (await stream.Next(TimeSpan.FromSeconds(90)) is { } e)
                    {
                        received.Add(e);
                        if (e.Event is "completed" or "failed" or "cancelled")
                            return received;
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
            }
            await Task.Delay(300);
        }
    }
}
