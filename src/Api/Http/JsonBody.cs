using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using EventSourced.Api.Errors;
using FluentValidation;

namespace EventSourced.Api.Http;

/// <summary>Reads a request body as JSON, with a clear problem for each way it can be wrong.</summary>
public static class JsonBody
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = RequestLimits.MaxJsonDepth };

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
    /// The body, or a problem: 415 when it is not JSON, 413 over 1 MiB, 400 when it does not parse, nests too deep or holds
    /// a value that cannot be stored (U+0000, a number out of range). Fields in errors are named under <paramref name="prefix"/>.
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
        if (request.ContentLength > RequestLimits.MaxBodyBytes)
            return (default, TooLarge());

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > RequestLimits.MaxBodyBytes)
                return (default, TooLarge());
            buffer.Write(chunk, 0, read);
        }
        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), null);
    }

    /// <summary>
    /// The JSON in <paramref name="bytes"/>, or a 400 problem when it is not UTF-8, does not parse, nests deeper than
    /// <see cref="RequestLimits.MaxJsonDepth"/>, or holds a value that cannot be stored.
    /// </summary>
    public static (JsonElement Body, IResult? Problem) Parse(ReadOnlyMemory<byte> bytes, string prefix = "")
    {
        // The parser reads a string's bytes only when asked for its value: invalid UTF-8 inside one would pass it.
        if (!Utf8.IsValid(bytes.Span))
            return (default, Problems.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body is not valid JSON.", "The body is not valid UTF-8."));
        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(bytes, DocumentOptions);
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return (default, IsTooDeep(bytes.Span)
                ? Problems.Problem(StatusCodes.Status400BadRequest, "json_too_deep", "The JSON is nested too deeply.",
                    $"Objects and arrays may be nested {RequestLimits.MaxJsonDepth} deep at most.")
                : Problems.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body is not valid JSON.", WhereItGoesWrong(e)));
        }
        return Unstorable(body, prefix) is var (path, error)
            ? (default, Problems.Validation(new Dictionary<string, string[]> { [path] = [error] }))
            : (body, null);
    }

    /// <summary>
    /// What is wrong with JSON that does not parse, and where, in a client's words: the parser's own message without its
    /// position suffix (given here 1-based, as editors count) and without its advice to the server ("Change the reader options").
    /// </summary>
    private static string WhereItGoesWrong(JsonException e)
    {
        var what = e.Message;
        foreach (var cut in new[] { " Path: ", " LineNumber: " })
        {
            if (what.IndexOf(cut, StringComparison.Ordinal) is var at and >= 0)
                what = what[..at];
        }
        what = what.Replace(" Change the reader options.", "", StringComparison.Ordinal)
            .Replace(" which is not supported in this mode.", ", which JSON does not allow.", StringComparison.Ordinal)
            .Replace("Comments are not allowed in this mode", "Comments are not allowed", StringComparison.Ordinal).Trim();
        return string.Create(CultureInfo.InvariantCulture,
            $"{what} (line {e.LineNumber + 1 ?? 1}, byte {e.BytePositionInLine + 1 ?? 1}{(e.Path is { Length: > 1 } path ? $", at {path}" : "")}).");
    }

    /// <summary>
    /// Deserializes strictly: an unknown field or a value of the wrong type is an error keyed by its path
    /// under <paramref name="prefix"/> ("input.steps"), as validation errors are. A body that is not an object is one too.
    /// </summary>
    public static (T? Value, Dictionary<string, string[]>? Errors) Deserialize<T>(JsonElement json, string prefix)
        where T : class
    {
        var fields = Strict.GetTypeInfo(typeof(T)).Properties.ToDictionary(p => p.Name, p => p.PropertyType);
        if (json.ValueKind != JsonValueKind.Object)
            return (null, new() { [Key(prefix, "")] = ["Must be a JSON object."] });
        // A number (or true or false) left out would be read as 0 (or false) and checked as if it had been sent: it is required.
        if (fields.FirstOrDefault(f => f.Value.IsValueType && Nullable.GetUnderlyingType(f.Value) is null && !json.TryGetProperty(f.Key, out _)) is
            { Key: { } missing })
        {
            return (null, new() { [Key(prefix, missing)] = [$"'{missing}' is required."] });
        }
        try
        {
            return (json.Deserialize<T>(Strict), null);
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path ? path[2..] : "";
            var message = fields.TryGetValue(field.Split('.', '[')[0], out var type)
                ? $"Must be {Expected(type)}."
                : $"Unknown field. The fields are: {string.Join(", ", fields.Keys)}.";
            return (null, new() { [Key(prefix, field)] = [message] });
        }
    }

    /// <summary>What a field of <paramref name="type"/> takes, in a client's words.</summary>
    private static string Expected(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(Guid) => "a UUID, such as 5f0c2a4e-8d1b-4c3a-9e7f-1a2b3c4d5e6f",
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(double) || t == typeof(decimal) => "a number",
        var t when t == typeof(bool) => "true or false",
        var t when t == typeof(string) => "a string",
        var t when t == typeof(DateTimeOffset) => "a time such as 2026-11-24T12:00:00Z",
        var t when t != typeof(string) && t.IsAssignableTo(typeof(System.Collections.IEnumerable)) => "an array",
        _ => "of another type",
    };

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

    /// <summary>
    /// The path of the first value that cannot be stored, and why: a string or field name holding U+0000 (PostgreSQL's jsonb
    /// refuses it) or a lone surrogate ("\ud800", which no reader can turn into text), a number out of range. Null when there is none.
    /// </summary>
    private static (string Path, string Error)? Unstorable(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return TextError(() => element.GetString()!) is { } error ? (Key(path, ""), error) : null;
            case JsonValueKind.Number:
                return IsStorable(element) ? null : (Key(path, ""), NumberError);
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (TextError(() => property.Name) is { } invalid)
                        return (Key(path, SafeName(property)), invalid);
                    if (Unstorable(property.Value, Key(path, property.Name)) is { } found)
                        return found;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Unstorable(item, $"{Key(path, "")}[{index++}]") is { } found)
                        return found;
                }
                return null;
            default:
                return null;
        }
    }

    private static string? TextError(Func<string> read)
    {
        try
        {
            return read().Contains('\0', StringComparison.Ordinal) ? "Must not contain the character U+0000: it cannot be stored." : null;
        }
        catch (InvalidOperationException)
        {
            // The parser checks that escapes are hexadecimal, not that surrogates come in pairs; reading the text does.
            return "Must be Unicode text: an escaped surrogate (\\ud800 to \\udfff) must be one of a pair.";
        }
    }

    /// <summary>A field name for an error about the name itself: as sent, or as far as it is text.</summary>
    private static string SafeName(JsonProperty property)
    {
        try
        {
            return property.Name.Replace("\0", "\\u0000", StringComparison.Ordinal);
        }
        catch (InvalidOperationException)
        {
            return "(a field name that is not Unicode text)";
        }
    }

    private static readonly string NumberError = string.Create(CultureInfo.InvariantCulture,
        $"Must be a number of at most {RequestLimits.MaxJsonNumberChars} characters, within what a 64-bit float holds (±{double.MaxValue:R}), with an exponent of at most {RequestLimits.MaxJsonExponentDigits} digits.");

    /// <summary>Short enough, finite as a double, and with a short exponent: 0e-20000 is 0, and PostgreSQL still refuses it.</summary>
    private static bool IsStorable(JsonElement number)
    {
        var text = JsonMarshal.GetRawUtf8Value(number);
        if (text.Length > RequestLimits.MaxJsonNumberChars || !number.TryGetDouble(out var value) || !double.IsFinite(value))
            return false;
        var exponent = text.IndexOfAny((byte)'e', (byte)'E');
        return exponent < 0 || text[(exponent + 1)..].TrimStart("+-0"u8).Length <= RequestLimits.MaxJsonExponentDigits;
    }

    /// <summary>A field's path under <paramref name="prefix"/> ("input.steps", or "steps" with none), as errors are keyed; "$" for the body itself.</summary>
    public static string Key(string prefix, string field) =>
        string.Join('.', new[] { prefix, field }.Where(s => s.Length > 0)) is { Length: > 0 } joined ? joined : "$";

    private static IResult TooLarge() => Problems.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large",
        "The body is too large.", $"Bodies are limited to {RequestLimits.MaxBodyBytes / 1024} KiB ({RequestLimits.MaxBodyBytes} bytes).");

    /// <summary>
    /// Whether the JSON nests deeper than <see cref="RequestLimits.MaxJsonDepth"/> before it goes wrong otherwise. Asked only of a
    /// body that did not parse: a body that parses paid nothing for it.
    /// </summary>
    private static bool IsTooDeep(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = int.MaxValue });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= RequestLimits.MaxJsonDepth)
                    return true;
            }
        }
        catch (JsonException)
        {
            // Malformed before it was too deep.
        }
        return false;
    }
}
