using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using EventSourced.Api.Errors;
using FluentValidation;

namespace EventSourced.Api.Http;

/// <summary>Reads a request body as JSON, with a clear problem for each way it can be wrong.</summary>
public static class JsonBody
{
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// Field names exactly as documented (camelCase), numbers as JSON numbers, and no unknown fields, so a
    /// misspelt or mistyped field is an error rather than silently ignored or read as something else.
    /// </summary>
    public static readonly JsonSerializerOptions Strict = new(JsonSerializerDefaults.Web)
    {
        // Set here rather than on first use, so that the fields of a type can be listed before anything is read.
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        PropertyNameCaseInsensitive = false,
        NumberHandling = JsonNumberHandling.Strict,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>
    /// The body, or a problem: 415 when it is not JSON, 413 over 1 MiB, 400 when it does not parse or holds
    /// a character PostgreSQL cannot store (U+0000). Fields in errors are named under <paramref name="prefix"/>.
    /// </summary>
    public static async Task<(JsonElement Body, IResult? Problem)> Read(HttpRequest request, CancellationToken ct, string prefix = "")
    {
        var (bytes, problem) = await ReadBytes(request, ct);
        return problem is null ? Parse(bytes, prefix) : (default, problem);
    }

    /// <summary>The body's bytes as sent (what a signature covers), or a problem: 415 when it is not JSON, 413 over 1 MiB.</summary>
    public static async Task<(ReadOnlyMemory<byte> Bytes, IResult? Problem)> ReadBytes(HttpRequest request, CancellationToken ct)
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
        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), null);
    }

    /// <summary>The JSON in <paramref name="bytes"/>, or a 400 problem when it does not parse or holds U+0000.</summary>
    public static (JsonElement Body, IResult? Problem) Parse(ReadOnlyMemory<byte> bytes, string prefix = "")
    {
        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return (default, Problems.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body is not valid JSON.", e.Message));
        }
        return PathToNul(body, prefix) is { } path
            ? (default, Problems.Validation(new Dictionary<string, string[]> { [path] = ["Must not contain the character U+0000: it cannot be stored."] }))
            : (body, null);
    }

    /// <summary>
    /// Deserializes strictly: an unknown field or a value of the wrong type is an error keyed by its path
    /// under <paramref name="prefix"/> ("input.steps"), as validation errors are. A body that is not an object is one too.
    /// </summary>
    public static (T? Value, Dictionary<string, string[]>? Errors) Deserialize<T>(JsonElement json, string prefix)
        where T : class
    {
        var fields = Strict.GetTypeInfo(typeof(T)).Properties.Select(p => p.Name).ToList();
        if (json.ValueKind != JsonValueKind.Object)
            return (null, new() { [Key(prefix, "")] = ["Must be a JSON object."] });
        try
        {
            return (json.Deserialize<T>(Strict), null);
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path ? path[2..] : "";
            var message = fields.Contains(field.Split('.', '[')[0])
                ? "The value does not have the expected type."
                : $"Unknown field. The fields are: {string.Join(", ", fields)}.";
            return (null, new() { [Key(prefix, field)] = [message] });
        }
    }

    /// <summary>
    /// Reads, deserializes strictly and validates a small request body. Without a body, <paramref name="whenEmpty"/>
    /// stands in for it when given; otherwise an empty body is an error like any other.
    /// </summary>
    public static async Task<(T? Value, IResult? Problem)> ReadValidated<T>(HttpRequest request, IValidator<T> validator, CancellationToken ct, T? whenEmpty = null)
        where T : class
    {
        if (whenEmpty is not null && request.ContentLength is null or 0 && request.Headers.TransferEncoding.Count == 0)
            return (whenEmpty, null);
        var (body, problem) = await Read(request, ct);
        if (problem is not null)
            return (null, problem);
        var (value, errors) = Deserialize<T>(body, "");
        if (errors is not null)
            return (null, Problems.Validation(errors));
        var validation = await validator.ValidateAsync(value!, ct);
        return validation.IsValid ? (value, null) : (null, Problems.Validation(validation.ToDictionary()));
    }

    /// <summary>The path of the first string or field name holding U+0000, which PostgreSQL's jsonb refuses; null when there is none.</summary>
    private static string? PathToNul(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return element.GetString()!.Contains('\0', StringComparison.Ordinal) ? Key(path, "") : null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var at = Key(path, property.Name);
                    if (property.Name.Contains('\0', StringComparison.Ordinal))
                        return at;
                    if (PathToNul(property.Value, at) is { } found)
                        return found;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (PathToNul(item, $"{Key(path, "")}[{index++}]") is { } found)
                        return found;
                }
                return null;
            default:
                return null;
        }
    }

    private static string Key(string prefix, string field) =>
        string.Join('.', new[] { prefix, field }.Where(s => s.Length > 0)) is { Length: > 0 } joined ? joined : "$";

    private static IResult TooLarge() => Problems.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large",
        "The body is too large.", $"Bodies are limited to {MaxBytes / 1024} KiB.");
}
