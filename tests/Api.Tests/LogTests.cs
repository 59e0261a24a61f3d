using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSourced.Api.Tests;

/// <summary>The API with what it logs kept, at the levels it ships with.</summary>
public sealed class ApiWithCapturedLogs : ApiFixture
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Text)> Entries { get; } = new();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Runner:Enabled"] = "false" };

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<ILoggerProvider>(new Capture(Entries));

    private sealed class Capture(ConcurrentQueue<(LogLevel, string, string)> entries) : ILoggerProvider, ILogger
    {
        private string _category = "";

        public ILogger CreateLogger(string categoryName) => new Capture(entries) { _category = categoryName };

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((logLevel, _category, formatter(state, exception) + exception));

        public bool IsEnabled(LogLevel logLevel) => true;

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
}
