using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;

namespace EventSourced.Api.Http;

/// <summary>
/// Writes a text/event-stream response straight into the response pipe: no string per frame, and one
/// JSON writer per stream, reused. Frames are buffered until <see cref="Flush"/>, so a replay of many
/// events goes out in few writes.
/// </summary>
public sealed class SseWriter(HttpResponse response)
{
    private readonly PipeWriter _body = response.BodyWriter;
    private Utf8JsonWriter? _json;

    /// <summary>Sends the headers and the reconnection delay, unbuffered and uncompressed, at once.</summary>
    public Task Start(TimeSpan retry, CancellationToken ct)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        _body.Write("retry: "u8);
        WriteNumber((long)retry.TotalMilliseconds);
        _body.Write("\n\n"u8);
        return Flush(ct);
    }

    /// <summary>One event. The JSON is written compact, so it is one data line.</summary>
    public void Event<T>(long id, string name, T data, JsonTypeInfo<T> json)
    {
        Head(id, name);
        if (_json is null)
            _json = new Utf8JsonWriter(_body, new JsonWriterOptions { Encoder = ResponseJson.Encoder });
        else
            _json.Reset(_body);
        JsonSerializer.Serialize(_json, data, json);
        _body.Write("\n\n"u8);
    }

    /// <summary>One event whose data is compact JSON already written: an event that many streams send is serialized once.</summary>
    public void Event(long id, string name, ReadOnlySpan<byte> json)
    {
        Head(id, name);
        _body.Write(json);
        _body.Write("\n\n"u8);
    }

    /// <summary>A comment line: ignored by clients, it keeps proxies from closing an idle connection.</summary>
    public Task Comment(string text, CancellationToken ct)
    {
        _body.Write(": "u8);
        Encoding.UTF8.GetBytes(text, _body);
        _body.Write("\n\n"u8);
        return Flush(ct);
    }

    public async Task Flush(CancellationToken ct) => await _body.FlushAsync(ct);

    private void Head(long id, string name)
    {
        _body.Write("id: "u8);
        WriteNumber(id);
        _body.Write("\nevent: "u8);
        Encoding.UTF8.GetBytes(name, _body);
        _body.Write("\ndata: "u8);
    }

    private void WriteNumber(long value)
    {
        Utf8Formatter.TryFormat(value, _body.GetSpan(20), out var written);
        _body.Advance(written);
    }
}
