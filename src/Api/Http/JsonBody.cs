using System.Text.Json;
using EventSourced.Api.Errors;

namespace EventSourced.Api.Http;

/// <summary>Reads a request body as JSON, with a clear problem for each way it can be wrong.</summary>
public static class JsonBody
{
    public const int MaxBytes = 1024 * 1024;

    /// <summary>The body, or a problem: 415 when it is not JSON, 413 over 1 MiB, 400 when it does not parse.</summary>
    public static async Task<(JsonElement Body, IResult? Problem)> Read(HttpRequest request, CancellationToken ct)
    {
        if (!request.HasJsonContentType())
        {
            return (default, Problems.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                "The body must be JSON.", $"Send Content-Type: application/json, not '{request.ContentType}'."));
        }
        if (request.ContentLength > MaxBytes)
            return (default, TooLarge());

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
                return (default, TooLarge());
            buffer.Write(chunk, 0, read);
        }
        try
        {
            using var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            return (document.RootElement.Clone(), null);
        }
        catch (JsonException e)
        {
            return (default, Problems.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body is not valid JSON.", e.Message));
        }
    }

    /// <summary>
    /// Deserializes strictly: an unknown field or a value of the wrong type is an error keyed by its
    /// path under <paramref name="prefix"/> ("input.steps"), as validation errors are.
    /// </summary>
    public static (T? Value, Dictionary<string, string[]>? Errors) Deserialize<T>(JsonElement json, JsonSerializerOptions options, string prefix)
    {
        try
        {
            return (json.Deserialize<T>(options), null);
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path ? path[2..] : "";
            var fields = options.GetTypeInfo(typeof(T)).Properties.Select(p => p.Name).ToList();
            var message = fields.Contains(field.Split('.', '[')[0])
                ? "The value does not have the expected type."
                : json.ValueKind == JsonValueKind.Object
                    ? $"Unknown field. The fields are: {string.Join(", ", fields)}."
                    : "Must be a JSON object.";
            var key = string.Join('.', new[] { prefix, field }.Where(s => s.Length > 0)) is { Length: > 0 } joined ? joined : "$";
            return (default, new() { [key] = [message] });
        }
    }

    private static IResult TooLarge() => Problems.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large",
        "The body is too large.", $"Bodies are limited to {MaxBytes / 1024} KiB.");
}
