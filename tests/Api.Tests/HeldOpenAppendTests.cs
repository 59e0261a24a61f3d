using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventSourced.Api.Execution;
using EventSourced.Api.Http;
using EventSourced.Api.Webhooks;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using EventSourced.TestSupport;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Tests;

/// <summary>
/// The API with no runner and hour-long leases (nothing moves a job but the test), external job types that only the test
/// claims, callbacks allowed to this machine and a payment provider that reports on them.
/// </summary>
public sealed class ApiForEveryWritePath : ApiFixture
{
    /// <summary>Jobs of this type are claimed by any path that claims; the worker paths have a type each, so theirs is the only one due.</summary>
    public const string Type = "wp", WorkerClaimType = "wp-claimed", WorkerReportType = "wp-reported";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = "01:00:00",
        [$"Jobs:Types:{Type}:External"] = "true",
        [$"Jobs:Types:{WorkerClaimType}:External"] = "true",
        [$"Jobs:Types:{WorkerReportType}:External"] = "true",
        ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
        ["Webhooks:Secrets:default"] = ApiWithCallbacks.Secret,
        [$"Webhooks:Providers:{ApiWithProvider.Provider}:Secrets"] = ApiWithProvider.Secret,
        [$"Webhooks:Providers:{ApiWithProvider.Provider}:JobTypes:0"] = Type,
    };
}

/// <summary>
/// The global feed's promise, on every path that appends a job's events: an append whose transaction is still open when a
/// later-numbered event commits is waited for, never skipped. Each path's write is held open after Marten numbered its
/// events (the test holds a row the write needs), while another process commits a submission; the feed must not show that
/// submission until the held write has committed. A path that let Marten number its events before opening its transaction
/// fails here. Retention is not among them: archiving numbers no events.
/// </summary>
public sealed class HeldOpenAppendTests(ApiForEveryWritePath api) : IClassFixture<ApiForEveryWritePath>
{
    private readonly HttpClient _client = api.CreateClient();

    public static TheoryData<string> Paths =>
    [
        "submit", "runner claim", "worker claim", "runner report", "suspension", "worker report", "lease sweep", "expiry",
        "cancel", "redrive", "provider webhook", "callback record",
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task The_feed_waits_for_an_append_whose_transaction_commits_late_rather_than_skip_its_event(string path)
    {
        var start = (await Page("/events?limit=1000")).Horizon;
        var (id, write, expected) = await Prepare(path);
        await using var connection = new NpgsqlConnection(api.Database.ConnectionString);
        await connection.OpenAsync();
        await using var hold = await connection.BeginTransactionAsync();
        await Hold(connection, id, newStream: path == "submit");

        var writing = Task.Run(write);
        await Eventually.Get(async () => writing.IsFaulted ? throw writing.Exception! : await WaitingForLocks(connection), n => n > 0, $"the {path} to wait for the held row");
        using var other = JobStoreProcess.On(api.Database.ConnectionString);
        var early = await other.Submit();
        for (var look = 0; look < 10; look++)
            Assert.DoesNotContain((await Page($"/events?after={start}&limit=1000")).Events, e => e.JobId == early);

        await hold.RollbackAsync();
        await writing;

        var page = await Eventually.Get(() => Page($"/events?after={start}&limit=1000"),
            p => p.Events.Any(e => e.JobId == early) && p.Events.Any(e => e.JobId == id && e.Type.StartsWith(expected, StringComparison.Ordinal)),
            $"the {path}'s event and the later one to be shown");
        var earlySeq = page.Events.Single(e => e.JobId == early).Seq;
        Assert.Contains(page.Events, e => e.JobId == id && e.Type.StartsWith(expected, StringComparison.Ordinal) && e.Seq < earlySeq);
    }

    /// <summary>A job made ready for the path, the path's write, and the (start of the) type of the event it appends.</summary>
    private async Task<(Guid Id, Func<Task> Write, string Expected)> Prepare(string path)
    {
        var services = api.Host.Services;
        var streams = services.GetRequiredService<JobStreams>();
        var queue = services.GetRequiredService<JobQueue>();
        var hour = TimeSpan.FromHours(1);
        switch (path)
        {
            case "submit":
            {
                var key = Guid.NewGuid().ToString();
                return (Idempotency.JobId(Tenants.Default, key), () => Expect(_client.PostJson("/jobs", Body(ApiForEveryWritePath.Type), key), HttpStatusCode.Accepted), "job.submitted");
            }
            case "runner claim":
                return (await Submit(), () => queue.Claim(1000, [ApiForEveryWritePath.Type], null, "test-runner", "test-runner", hour, default), "job.started");
            case "worker claim":
                return (await Submit(ApiForEveryWritePath.WorkerClaimType), () => ClaimAsWorker(ApiForEveryWritePath.WorkerClaimType), "job.started");
            case "runner report" or "suspension":
            {
                var (id, claimed) = await Claimed(queue, hour);
                var execution = new JobExecution(new JobAt(id, Tenants.Default, claimed.State, claimed.Version, id.ToString()), streams,
                    new EventMetadata(Actor: "test-runner"), TimeProvider.System, TimeSpan.FromSeconds(30), NullLogger.Instance);
                return path == "suspension"
                    ? (id, () => execution.Finish(new SuspendJob(claimed.State.Attempt, "bank", DateTimeOffset.UtcNow + hour), claimed.Lease.Token), "job.suspended")
                    : (id, () => execution.Report(new ReportProgress(claimed.State.Attempt, 50, null)), "job.progressed");
            }
            case "worker report":
            {
                var id = await Submit(ApiForEveryWritePath.WorkerReportType);
                var token = await ClaimAsWorker(ApiForEveryWritePath.WorkerReportType);
                return (id, () => Expect(_client.PostAsJsonAsync($"/workers/jobs/{id}/progress", new { leaseToken = token, percent = 50 }), HttpStatusCode.OK),
                    "job.progressed");
            }
            case "lease sweep":
            {
                var (id, _) = await Claimed(queue, TimeSpan.FromMilliseconds(1));
                return (id, () => queue.ExpireLeases(1000, "test-sweeper", default), "job.attempt_failed");
            }
            case "expiry":
            {
                var (id, claimed) = await Claimed(queue, hour);
                await streams.Execute(id, Tenants.Default, new SuspendJob(claimed.State.Attempt, "bank", DateTimeOffset.UtcNow.AddMilliseconds(300)),
                    EventMetadata.None, default, endingLease: claimed.Lease.Token);
                await Task.Delay(400);
                return (id, () => queue.ExpireLeases(1000, "test-sweeper", default), "job.failed");
            }
            case "cancel":
            {
                var id = await Submit();
                return (id, () => Expect(_client.PostAsync($"/jobs/{id}/cancel", null), HttpStatusCode.Accepted), "job.cancelled");
            }
            case "redrive":
            {
                var id = await Submit();
                await api.Drive(id, new StartJob("test-runner"));
                await api.Drive(id, new FailAttempt(1, "broken", "It broke.", 0, Retryable: false));
                return (id, () => Expect(_client.PostAsync($"/jobs/{id}/retry", null), HttpStatusCode.Accepted), "job.redriven");
            }
            case "provider webhook":
            {
                var id = await Submit();
                await api.Drive(id, new StartJob("test-runner"));
                return (id, () => Expect(_client.SendAsync(SignedWebhook($$$"""{"type":"payment.succeeded","data":{"jobId":"{{{id}}}"}}""")), HttpStatusCode.Accepted),
                    "job.completed");
            }
            case "callback record":
            {
                var response = await _client.PostJson("/jobs", Body(ApiForEveryWritePath.Type, callbackUrl: "http://127.0.0.1:9/hook"), Guid.NewGuid().ToString());
                var id = (await response.Json()).GetProperty("jobId").GetGuid();
                return (id, () => JobCallbackHandler.Handle(new JobCallbackDue(id, Tenants.Default, 1, 1), services.GetRequiredService<IDocumentStore>(), streams,
                    services.GetRequiredService<CallbackSender>(), services.GetRequiredService<IOptions<WebhookOptions>>(), TimeProvider.System,
                    services.GetRequiredService<PublicUrls>(), default), "webhook.");
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(path), path, "No such write path.");
        }
    }

    /// <summary>
    /// Holds what the job's write needs once its events are numbered: the job's status row (every append to an existing job
    /// updates it, and claims and sweeps lock only stream rows), or, for a job not yet submitted, its stream's id.
    /// </summary>
    private static async Task Hold(NpgsqlConnection connection, Guid id, bool newStream)
    {
        await using var command = new NpgsqlCommand(newStream
            ? $"INSERT INTO {EventStoreSetup.Schema}.mt_streams (tenant_id, id, type, version) VALUES ('{Tenants.Default}', $1, 'held', 0)"
            : $"SELECT 1 FROM {EventStoreSetup.Schema}.mt_doc_job_status WHERE id = $1 FOR UPDATE", connection)
        {
            Parameters = { new() { Value = id } },
        };
        Assert.Equal(1, newStream ? await command.ExecuteNonQueryAsync() : (int)(await command.ExecuteScalarAsync())!);
    }

    private static async Task<long> WaitingForLocks(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Body(string type, string? callbackUrl = null) => callbackUrl is null
        ? $$$"""{"type":"{{{type}}}","input":{}}"""
        : $$$"""{"type":"{{{type}}}","input":{},"callbackUrl":"{{{callbackUrl}}}"}""";

    private async Task<Guid> Submit(string type = ApiForEveryWritePath.Type)
    {
        var response = await _client.PostJson("/jobs", Body(type), Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    /// <summary>A job of its own, claimed as a runner claims (with every other due job of the type, which is no matter) with a lease of <paramref name="lease"/>.</summary>
    private async Task<(Guid Id, ClaimedJob Claimed)> Claimed(JobQueue queue, TimeSpan lease)
    {
        var id = await Submit();
        var claimed = await queue.Claim(1000, [ApiForEveryWritePath.Type], null, "test-runner", "test-runner", lease, default);
        return (id, claimed.Single(c => c.Submitted.JobId == id));
    }

    private async Task<Guid> ClaimAsWorker(string type)
    {
        var response = await _client.PostAsJsonAsync("/workers/claims", new { types = new[] { type }, leaseSeconds = 3600, worker = "test-worker" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Json()).GetProperty("leaseToken").GetGuid();
    }

    private static async Task Expect(Task<HttpResponseMessage> request, HttpStatusCode status)
    {
        var response = await request;
        Assert.True(response.StatusCode == status, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static HttpRequestMessage SignedWebhook(string body)
    {
        var (id, timestamp) = ("msg_" + Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var key = Convert.FromBase64String(ApiWithProvider.Secret["whsec_".Length..]);
        var signature = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));
        var request = new HttpRequestMessage(HttpMethod.Post, $"/webhooks/{ApiWithProvider.Provider}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", "v1," + signature);
        return request;
    }

    private sealed record Entry(long Seq, Guid JobId, string Type);

    private sealed record FeedPage(List<Entry> Events, long Horizon);

    private async Task<FeedPage> Page(string url)
    {
        var response = await _client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<FeedPage>(JsonSerializerOptions.Web))!;
    }
}
