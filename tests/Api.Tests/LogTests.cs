using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EventSourced.TestSupport;
using static EventSourced.Domain.Jobs.JobCommand;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSourced.Api.Tests;

/// <summary>The API with what it logs kept, at the levels it ships with.</summary>
public sealed class ApiWithCapturedLogs : ApiFixture
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Text)> Entries { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
        ["Webhooks:Secrets:default"] = ApiWithCallbacks.Secret,
        ["Webhooks:RetrySchedule:0"] = "00:00:00.010",
        ["Webhooks:RetrySchedule:1"] = "00:00:00.010",
        ["Webhooks:RetrySchedule:2"] = "00:00:00.010",
    };

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(new Capture(Entries));

    private sealed class Capture(ConcurrentQueue<(LogLevel, string, string)> entries) : ILoggerProvider, ILogger
    {
        private string _category = "";

        public ILogger CreateLogger(string categoryName) => new Capture(entries) { _category = categoryName };

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                entries.Enqueue((logLevel, _category, formatter(state, exception) + exception));
        }

        // As every real provider: an entry at None is never written.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public void Dispose()
        {
        }
    }
}

/// <summary>What an operator reads in the log: no noise from what clients do every day, and none of their secrets.</summary>
public sealed class LogTests(ApiWithCapturedLogs api) : IClassFixture<ApiWithCapturedLogs>
{
    [Fact]
    public async Task Retried_submissions_and_a_followed_job_log_no_error_no_input_no_key_and_no_stream_token()
    {
        var client = api.CreateClient();
        var statuses = new List<HttpStatusCode>();
        foreach (var file in new[] { "secret-input", "secret-input", "secret-input", "secret-input-2" })
            statuses.Add((await client.PostJson("/transcodes", $$"""{"fileId":"{{file}}"}""", "logged-retry")).StatusCode);
        var accepted = await (await client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"secret-file"}}""", "followed")).Json();
        var eventsUrl = accepted.Str("eventsUrl");
        using var browser = api.Host.Server.CreateClient();
        using var stream = await browser.GetAsync(eventsUrl, HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.UnprocessableEntity], statuses);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        var key = api.Key("default", Access.Roles.All);
        var token = Uri.UnescapeDataString(eventsUrl[(eventsUrl.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        var logged = api.Entries.ToList();
        Assert.NotEmpty(logged);
        Assert.DoesNotContain(logged, e => e.Level is LogLevel.Error or LogLevel.Critical);
        foreach (var secret in new[] { key, key[17..], token, "secret-input", "secret-file", "logged-retry" })
            Assert.DoesNotContain(logged, e => e.Text.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refusals_a_client_caused_are_logged_as_information_in_one_line_without_a_stack_trace()
    {
        var client = api.CreateClient();
        var accepted = await (await client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"refused"}}""", Guid.NewGuid().ToString())).Json();
        var id = accepted.GetProperty("jobId").GetGuid();
        await api.Drive(id, new StartJob("node-a"));
        await api.Drive(id, new CompleteJob(1, JsonDocument.Parse("{}").RootElement, "application/json"));
        var before = api.Entries.Count;

        var stale = new HttpRequestMessage(HttpMethod.Post, $"/jobs/{id}/cancel");
        stale.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\""));
        var statuses = new[]
        {
            (await client.PostAsync($"/jobs/{id}/cancel", null)).StatusCode,
            (await client.SendAsync(stale)).StatusCode,
            (await client.PostAsync($"/jobs/{Guid.NewGuid()}/cancel", null)).StatusCode,
        };

        Assert.Equal([HttpStatusCode.Conflict, HttpStatusCode.PreconditionFailed, HttpStatusCode.NotFound], statuses);
        var logged = api.Entries.Skip(before).ToList();
        Assert.DoesNotContain(logged, e => e.Level >= LogLevel.Warning);
        Assert.DoesNotContain(logged, e => e.Text.Contains("   at ", StringComparison.Ordinal));
        foreach (var code in new[] { "job_already_finished", "version_mismatch", "job_not_found" })
            Assert.Single(logged, e => e.Level == LogLevel.Information && e.Text.Contains(code, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Callbacks_racing_a_job_that_keeps_moving_log_no_warning()
    {
        await using var receiver = await CallbackReceiver.Start();
        var client = api.CreateClient();
        var accepted = await (await client.PostJson("/jobs",
            $$"""{"type":"transcode","input":{"fileId":"raced"},"callbackUrl":"{{receiver.Url}}","callbackEvents":["progress","completed"]}""",
            Guid.NewGuid().ToString())).Json();
        var id = accepted.GetProperty("jobId").GetGuid();
        var before = api.Entries.Count;

        await api.Drive(id, new StartJob("node-a"));
        for (var percent = 1; percent <= 40; percent++)
            await api.Drive(id, new ReportProgress(1, percent, null));
        await api.Drive(id, new CompleteJob(1, JsonDocument.Parse("{}").RootElement, "application/json"));
        await Eventually.Get(async () => (await api.Events(id)).Count(e => e.EventTypeName == "webhook.delivered"), n => n == 41, "every callback to be delivered");

        var logged = api.Entries.Skip(before).ToList();
        Assert.True(!logged.Any(e => e.Level >= LogLevel.Warning), string.Join("\n", logged.Where(e => e.Level >= LogLevel.Warning)));
    }
}
