using System.Diagnostics;
using EventSourced.EventStore;
using EventSourced.Scheduling;
using Marten;

namespace EventSourced.Benchmark;

/// <summary>
/// Scenario: an auditor's export. The million events of the rebuild scenario, read through GET /events as NDJSON in one
/// request, line by line as they arrive: events per second, and the client's memory (the export is streamed, not buffered).
/// </summary>
public static class FeedScenario
{
    public static async Task Run(BenchSettings settings)
    {
        await using (var dataSource = PostgresDataSource.Create(settings.ConnectionString))
        using (var store = DocumentStore.For(o =>
        {
            o.Connection(dataSource);
            JobStorage.Configure(o);
        }))
        {
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            await RebuildScenario.WriteJobs(store, dataSource);
        }
        await using var api = await ApiServer.Start(settings, new Dictionary<string, string> { ["Runner__Enabled"] = "false" });
        using var http = await api.Client();

        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/events?after=0");
        request.Headers.Add("Accept", "application/x-ndjson");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        long lines = 0, bytes = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            lines++;
            bytes += line.Length + 1;
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Report.Result("feed-export", ("events", lines), ("seconds", seconds), ("events_per_s", lines / seconds), ("mb", bytes / 1e6),
            ("server_rss_mb", Report.RssMb(api.Pid)), ("client_rss_mb", Report.RssMb()));
    }
}
