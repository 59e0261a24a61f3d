using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace EventSourced.Api.Http;

/// <summary>
/// Writes a text/event-stream response. Frames are buffered in the response pipe until
/// <see cref="Flush"/>, so a replay of many events goes out in few writes.
/// </summary>
public sealed class SseWriter(HttpResponse response, JsonSerializerOptions json)
{
    /// <summary>Sends the headers and the reconnection delay, unbuffered and uncompressed, at once.</summary>
    public Task Start(TimeSpan retry, CancellationToken ct)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        Write(string.Create(CultureInfo.InvariantCulture, $"retry: {(long)retry.TotalMilliseconds}\n\n"));
        return Flush(ct);
    }

    /// <summary>One event. The JSON is written compact, so it is one data line.</summary>
    public void Event(long id, string name, object data)
    {
        Write(string.Create(CultureInfo.InvariantCulture, $"id: {id}\nevent: {name}\ndata: "));
        using (var writer = new Utf8JsonWriter(response.BodyWriter))
            JsonSerializer.Serialize(writer, data, data.GetType(), json);
        Write("\n\n");
    }

    /// <summary>A comment line: ignored by clients, it keeps proxies from closing an idle connection.</summary>
    public Task Comment(string text, CancellationToken ct)
    {
        Write($": {text}\n\n");
        return Flush(ct);
    }

    public async Task Flush(CancellationToken ct) => await response.BodyWriter.FlushAsync(ct);

    private void Write(string text) => Encoding.UTF8.GetBytes(text, response.BodyWriter);
}
