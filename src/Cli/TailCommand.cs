using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json;
using EventSourced.Client;

namespace EventSourced.Cli;

/// <summary>
/// tail: the tenant's global feed live (GET /events/stream, the auditors' tail), one line per event, from after a sequence
/// number. Gap-free as the feed is: the service sends an event only once every earlier one has committed.
/// </summary>
internal static class TailCommand
{
    public static Command Create()
    {
        var after = new Option<long?>("--after") { Description = "Start after this sequence number (0: from the first event). Default: only events from now on." };
        var type = new Option<string>("--type") { Description = "Only events of this type (job.completed, job.failed, ...)." };
        var correlation = new Option<string>("--correlation-id") { Description = "Only the events of jobs submitted with this correlation id." };
        var count = new Option<int?>("--count") { Description = "Exit after this many events." };
        var json = new Option<bool>("--json") { Description = "Print each event as the service sends it, one JSON object per line." };
        var command = new Command("tail", "Follow the global feed of events, one line per event: seq, time, job, version, type, data (a key with the auditor role).")
        {
            after, type, correlation, count, json,
        };
        command.SetAction(Connection.Run((parsed, client, ct) => Follow(client.Transport, parsed.GetValue(after), parsed.GetValue(type),
            parsed.GetValue(correlation), parsed.GetValue(count), parsed.GetValue(json), ct)));
        return command;
    }

    private static async Task<int> Follow(ApiTransport api, long? after, string? type, string? correlation, int? count, bool json, CancellationToken ct)
    {
        var last = after ?? await Horizon(api, ct);
        var printed = 0;
        while (true)
        {
            // After a cut or a node that stopped, the same request again from the last event printed: nothing is lost or repeated.
            using var response = await api.SendAsync(() => Request(api, last, type, correlation), ct, HttpCompletionOption.ResponseHeadersRead);
            var parser = SseParser.Create(await response.Content.ReadAsStreamAsync(ct));
            try
            {
                await foreach (var item in parser.EnumerateAsync(ct))
                {
                    var e = JsonSerializer.Deserialize<StoredEvent>(item.Data, JsonSerializerOptions.Web)
                        ?? throw new InvalidDataException($"Event {item.EventId} of the feed has no data.");
                    Console.WriteLine(json ? item.Data : Output.Line(e));
                    last = e.Seq;
                    if (++printed == count)
                        return ExitCodes.Completed;
                }
            }
            catch (Exception e) when (ApiTransport.IsConnectionFailure(e, ct))
            {
                await Console.Error.WriteLineAsync($"The feed was cut ({e.Message}): reconnecting.");
            }
        }
    }

    /// <summary>Where the feed stands now: every event up to it has committed, so "after" it is exactly the events still to come.</summary>
    private static async Task<long> Horizon(ApiTransport api, CancellationToken ct)
    {
        using var response = await api.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, api.Url("events?limit=1")), ct);
        return (await api.ReadAsync<FeedPage>(response, ct)).Horizon;
    }

    private sealed record FeedPage(long Horizon);

    private static HttpRequestMessage Request(ApiTransport api, long after, string? type, string? correlation)
    {
        var query = new List<string>();
        if (type is not null)
            query.Add("type=" + Uri.EscapeDataString(type));
        if (correlation is not null)
            query.Add("correlationId=" + Uri.EscapeDataString(correlation));
        var request = new HttpRequestMessage(HttpMethod.Get, api.Url("events/stream" + (query.Count == 0 ? "" : "?" + string.Join('&', query))));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Add("Last-Event-ID", after.ToString(CultureInfo.InvariantCulture));
        return request;
    }
}
