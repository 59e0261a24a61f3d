using System.Text.Json;
using Xunit;

namespace EventSourced.TestSupport;

public sealed record SseEvent(string? Id, string? Event, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
    public long Seq => long.Parse(Id!, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A plain client for a text/event-stream response, as EventSource or curl -N would see it. Every event it reads must be
/// one the AsyncAPI document (docs/api/asyncapi.json) describes for the stream, with data that matches its schema: a
/// test that reads one that is not fails (<see cref="AsyncApiContract"/>).
/// </summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly StreamReader _reader;
    private readonly string _path;

    private SseStream(HttpResponseMessage response, StreamReader reader, string path)
    {
        Response = response;
        _reader = reader;
        _path = path;
    }

    public HttpResponseMessage Response { get; }
    public TimeSpan? Retry { get; private set; }

    public static async Task<SseStream> Open(HttpClient client, string url, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
            request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var uri = response.RequestMessage?.RequestUri ?? request.RequestUri!;
        var path = (uri.IsAbsoluteUri ? uri : new Uri(client.BaseAddress ?? new Uri("http://localhost"), uri)).AbsolutePath;
        return new SseStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()), path);
    }

    /// <summary>The next event, or null when the server ended the stream. The timeout only bounds a failing test.</summary>
    public async Task<SseEvent?> Next(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Patience.Bound);
        string? id = null, name = null;
        var data = new List<string>();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token);
            if (line is null)
                return null;
            if (line.Length == 0)
            {
                if (data.Count > 0)
                    return Checked(new SseEvent(id, name, string.Join('\n', data)));
                continue;
            }
            if (line[0] == ':')
                continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "data": data.Add(value); break;
                case "retry": Retry = TimeSpan.FromMilliseconds(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            }
        }
    }

    private SseEvent Checked(SseEvent e)
    {
        var problems = AsyncApiContract.Problems(_path, e);
        if (problems.Count > 0)
            Assert.Fail($"An event of {_path} breaks the AsyncAPI document {AsyncApiContract.Path}:\n{string.Join('\n', problems)}");
        return e;
    }

    /// <summary>Reads on until the next comment line (a keepalive) and returns its text.</summary>
    public async Task<string?> NextComment(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Patience.Bound);
        while (await _reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith(':'))
                return line[1..].Trim();
        }
        return null;
    }

    /// <summary>Every event until the server ends the stream.</summary>
    public async Task<List<SseEvent>> ReadToEnd(TimeSpan? timeout = null)
    {
        var events = new List<SseEvent>();
        while (await Next(timeout) is { } e)
            events.Add(e);
        return events;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        Response.Dispose();
        return ValueTask.CompletedTask;
    }
}
