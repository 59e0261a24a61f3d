using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace EventSourced.TestSupport;

/// <summary>
/// The served OpenAPI document as the API tests hold every answer to it: the status must be one the route's operation lists,
/// a problem's code one that status lists, and a JSON body must match the schema given for it.
/// </summary>
public sealed class ContractCheck
{
    // Answered before any route is chosen, to a path no route has or a method it does not take (and the limits and keys checked first).
    private static readonly int[] WithoutRoute = [401, 404, 405, 414, 429, 431];

    private readonly JsonElement _root;
    private readonly List<(string Method, string Template, Regex Path, int Literals, JsonElement Operation)> _operations = [];

    public ContractCheck(string document)
    {
        _root = JsonDocument.Parse(document).RootElement.Clone();
        foreach (var path in _root.GetProperty("paths").EnumerateObject())
        {
            var segments = path.Name.Trim('/').Split('/');
            var pattern = "^/" + string.Join("/", segments.Select(s => s.StartsWith('{') ? "[^/]+" : Regex.Escape(s))) + "/?$";
            foreach (var operation in path.Value.EnumerateObject())
            {
                _operations.Add((operation.Name.ToUpperInvariant(), path.Name, new Regex(pattern, RegexOptions.CultureInvariant),
                    segments.Count(s => !s.StartsWith('{')), operation.Value));
            }
        }
    }

    /// <summary>What is wrong with this answer, or null when the document allows it.</summary>
    public string? Check(string method, string path, int status, string? contentType, string? body)
    {
        var route = _operations.Where(o => o.Path.IsMatch(path)).OrderByDescending(o => o.Literals).ToList();
        var operation = route.FirstOrDefault(o => o.Method == method);
        if (operation.Template is null)
            return WithoutRoute.Contains(status) ? null : $"{method} {path} answered {status}, and the document has no {method} operation for this path.";
        var name = $"{method} {operation.Template}";
        var key = status.ToString(CultureInfo.InvariantCulture);
        if (!operation.Operation.GetProperty("responses").TryGetProperty(key, out var response)
            && !operation.Operation.GetProperty("responses").TryGetProperty("default", out response))
            return $"{name} answered {status} ({Code(body)}), which the document does not list for it.";
        // A body of null was not read (a stream): its media type is still checked.
        if (contentType is null || body is { Length: 0 })
            return null;
        if (!response.TryGetProperty("content", out var content))
            return $"{name} answered {status} with a {contentType} body, where the document says it has none.";
        var mediaType = contentType.Split(';')[0].Trim();
        var entry = content.EnumerateObject().FirstOrDefault(c => c.Name == mediaType || c.Name == "*/*" || (c.Name.EndsWith("/*", StringComparison.Ordinal)
            && mediaType.StartsWith(c.Name[..^1], StringComparison.Ordinal)));
        if (entry.Value.ValueKind == JsonValueKind.Undefined)
            return $"{name} answered {status} as {mediaType}, which the document does not list ({string.Join(", ", content.EnumerateObject().Select(c => c.Name))}).";
        if (body is null || !mediaType.EndsWith("json", StringComparison.Ordinal) || !entry.Value.TryGetProperty("schema", out var schema))
            return null;
        JsonElement json;
        try
        {
            json = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException e)
        {
            return $"{name} answered {status} as {mediaType} with a body that is not JSON: {e.Message}";
        }
        var errors = new List<string>();
        Validate(json, schema, "$", errors, 0);
        return errors.Count == 0 ? null : $"{name} answered {status} with a body that does not match its schema:\n  {string.Join("\n  ", errors.Take(10))}\n{Cut(body)}";
    }

    /// <summary>Every example of a request or response body in the document, where it is, and the schema it is given with.</summary>
    public IEnumerable<(string Where, JsonElement Example, JsonElement Schema)> Examples()
    {
        foreach (var (method, template, _, _, operation) in _operations)
        {
            var bodies = new List<(string, JsonElement)>();
            if (operation.TryGetProperty("requestBody", out var request))
                bodies.Add(("request", request));
            bodies.AddRange(operation.GetProperty("responses").EnumerateObject().Select(r => (r.Name, r.Value)));
            foreach (var (name, body) in bodies)
            {
                if (!body.TryGetProperty("content", out var content))
                    continue;
                foreach (var media in content.EnumerateObject().Where(m => m.Value.TryGetProperty("schema", out _)))
                {
                    var schema = media.Value.GetProperty("schema");
                    if (media.Value.TryGetProperty("example", out var example))
                        yield return ($"{method} {template} {name} {media.Name}", example, schema);
                    if (media.Value.TryGetProperty("examples", out var named))
                    {
                        foreach (var e in named.EnumerateObject())
                            yield return ($"{method} {template} {name} {media.Name} {e.Name}", e.Value.GetProperty("value"), schema);
                    }
                }
            }
        }
    }

    /// <summary>What in <paramref name="value"/> does not match <paramref name="schema"/>.</summary>
    public List<string> Errors(JsonElement value, JsonElement schema)
    {
        var errors = new List<string>();
        Validate(value, schema, "$", errors, 0);
        return errors;
    }

    private static string Code(string? body)
    {
        try
        {
            return body is { Length: > 0 } && JsonDocument.Parse(body).RootElement is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("code", out var c)
                ? $"code {c}" : "no code";
        }
        catch (JsonException)
        {
            return "not JSON";
        }
    }

    private static string Cut(string body) => body.Length > 600 ? body[..600] + "..." : body;

    /// <summary>The parts of JSON Schema 2020-12 that the generated document uses.</summary>
    private void Validate(JsonElement value, JsonElement schema, string at, List<string> errors, int depth)
    {
        if (depth > 64 || schema.ValueKind != JsonValueKind.Object)
            return;
        if (schema.TryGetProperty("$ref", out var reference))
            Validate(value, Resolve(reference.GetString()!), at, errors, depth + 1);
        if (schema.TryGetProperty("allOf", out var allOf))
        {
            foreach (var part in allOf.EnumerateArray())
                Validate(value, part, at, errors, depth + 1);
        }
        foreach (var keyword in new[] { "anyOf", "oneOf" })
        {
            if (schema.TryGetProperty(keyword, out var options) && !options.EnumerateArray().Any(o => Passes(value, o, at, depth)))
                errors.Add($"{at}: matches none of {keyword} ({Kind(value)})");
        }
        if (schema.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
            if (!types.Any(t => IsOfType(value, t)))
            {
                errors.Add($"{at}: is {Kind(value)}, not {string.Join(" or ", types)}");
                return;
            }
        }
        if (schema.TryGetProperty("enum", out var allowed) && !allowed.EnumerateArray().Any(a => JsonElement.DeepEquals(a, value)))
            errors.Add($"{at}: {value} is not one of {allowed}");
        if (value.ValueKind == JsonValueKind.Object)
        {
            var properties = schema.TryGetProperty("properties", out var p) ? p : default;
            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var name in required.EnumerateArray().Select(r => r.GetString()!).Where(n => !value.TryGetProperty(n, out _)))
                    errors.Add($"{at}: lacks required '{name}'");
            }
            foreach (var property in value.EnumerateObject())
            {
                if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
                    Validate(property.Value, propertySchema, $"{at}.{property.Name}", errors, depth + 1);
                else if (schema.TryGetProperty("additionalProperties", out var additional))
                {
                    if (additional.ValueKind == JsonValueKind.False)
                        errors.Add($"{at}: has '{property.Name}', which the schema does not allow");
                    else
                        Validate(property.Value, additional, $"{at}.{property.Name}", errors, depth + 1);
                }
            }
        }
        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            var i = 0;
            foreach (var item in value.EnumerateArray())
                Validate(item, items, $"{at}[{i++}]", errors, depth + 1);
        }
    }

    private bool Passes(JsonElement value, JsonElement schema, string at, int depth)
    {
        var errors = new List<string>();
        Validate(value, schema, at, errors, depth + 1);
        return errors.Count == 0;
    }

    private JsonElement Resolve(string reference)
    {
        var node = _root;
        foreach (var part in reference.TrimStart('#', '/').Split('/'))
            node = node.GetProperty(part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
        return node;
    }

    private static bool IsOfType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    private static string Kind(JsonElement value) => value.ValueKind.ToString().ToLowerInvariant();
}

/// <summary>The check on every answer a test client receives: a breach fails the request, and so the test, with what was wrong.</summary>
public sealed class ContractCheckingHandler(Func<CancellationToken, Task<ContractCheck>> contract) : DelegatingHandler
{
    public ContractCheckingHandler(Func<ContractCheck> contract)
        : this(_ => Task.FromResult(contract()))
    {
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var response = await base.SendAsync(request, ct);
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        // Streams are checked by their status and media type only: their bodies are read by the test as they come.
        var streaming = mediaType is "text/event-stream" or "application/x-ndjson";
        string? body = null;
        if (!streaming)
        {
            await response.Content.LoadIntoBufferAsync(ct);
            body = await response.Content.ReadAsStringAsync(ct);
        }
        var failure = (await contract(ct)).Check(request.Method.Method, request.RequestUri!.AbsolutePath, (int)response.StatusCode,
            response.Content.Headers.ContentType?.ToString(), body);
        return failure is null ? response : throw new ContractBreach(failure);
    }
}

public sealed class ContractBreach(string message) : Exception("The answer breaks the OpenAPI document (docs/api/openapi.json): " + message);
