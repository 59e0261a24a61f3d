using System.Text.Json;
using System.Text.Json.Serialization;
using EventSourced.Api.Errors;
using FluentValidation;

namespace EventSourced.Api.Http;

/// <summary>Reads a request body as JSON, with a clear problem for each way it can be wrong.</summary>
public static class JsonBody
{
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Refuses unknown fields, so a misspelt field is an error rather than silently ignored.</summary>
    public static readonly JsonSerializerOptions Strict = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

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
        var (value, errors) = Deserialize<T>(body, Strict, "");
        if (errors is not null)
            return (null, Problems.Validation(errors));
        var validation = await validator.ValidateAsync(value!, ct);
        return validation.IsValid ? (value, null) : (null, Problems.Validation(validation.ToDictionary()));
    }

    private static IResult TooLarge() => Problems.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large",
        "The body is too large.", $"Bodies are limited to {MaxBytes / 1024} KiB.");
}
