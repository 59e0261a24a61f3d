using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace EventSourced.TestSupport;

/// <summary>
/// The event streams' contract, read from docs/api/asyncapi.json: which stream a path is, which messages (SSE event
/// names) it sends, and each message's schemas for its SSE fields (<c>id:</c>, <c>event:</c>) and its payload (<c>data:</c>).
/// <see cref="SseStream"/> checks every event it reads against it, so a test that reads an event the document does not
/// describe, or describes otherwise, fails.
/// </summary>
public static class AsyncApiContract
{
    public static readonly string Path = System.IO.Path.Combine(Repository.Root.FullName, "docs", "api", "asyncapi.json");

    private static readonly Lazy<JsonObject> Document = new(() => (JsonObject)JsonNode.Parse(File.ReadAllText(Path))!);
    private static readonly Lazy<IReadOnlyList<Channel>> Channels = new(() => ReadChannels(Document.Value));

    // Draft 7, as AsyncAPI's own schema format is a superset of it; formats (uuid, date-time, uri) are checked, not only noted.
    private static readonly BuildOptions Build = new() { Dialect = Dialect.Draft07 };
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    /// <summary>What is wrong with an event read from <paramref name="path"/>, per the document; empty when nothing is.</summary>
    public static IReadOnlyList<string> Problems(string path, SseEvent e)
    {
        var channel = Channels.Value.FirstOrDefault(c => c.Address.IsMatch(path));
        if (channel is null)
            return [$"{path} is none of the streams the AsyncAPI document describes ({string.Join(", ", Channels.Value.Select(c => c.Name))})."];
        if (e.Event is null || !channel.Messages.TryGetValue(e.Event, out var message))
            return [$"{channel.Name} has no message '{e.Event}' in the AsyncAPI document (it has {string.Join(", ", channel.Messages.Keys)})."];

        var problems = new List<string>();
        var frame = new JsonObject { ["event"] = e.Event };
        if (e.Id is not null)
            frame["id"] = e.Id;
        problems.AddRange(Check(message.Headers, JsonSerializer.SerializeToElement(frame), $"{channel.Name}/{e.Event} SSE fields"));
        JsonElement data;
        try
        {
            data = JsonDocument.Parse(e.Data).RootElement;
        }
        catch (JsonException x)
        {
            return [.. problems, $"{channel.Name}/{e.Event}: data is not JSON ({x.Message}): {e.Data}"];
        }
        problems.AddRange(Check(message.Payload, data, $"{channel.Name}/{e.Event} payload"));
        return problems;
    }

    /// <summary>The names of the messages of the channel at <paramref name="address"/> ("/jobs/{id}/events").</summary>
    public static IReadOnlyList<string> MessageNames(string address) => [.. Channels.Value.Single(c => c.Template == address).Messages.Keys];

    /// <summary>Every example of every message in the document: its channel's address, and the event it shows.</summary>
    public static IEnumerable<(string Address, SseEvent Event)> Examples() =>
        from channel in Channels.Value
        from message in channel.Messages.Values
        from example in message.Examples
        select (channel.Template, example);

    private static IEnumerable<string> Check(JsonSchema schema, JsonElement instance, string what)
    {
        var result = schema.Evaluate(instance, Evaluation);
        if (result.IsValid)
            yield break;
        var errors = (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(error => $"{d.InstanceLocation} ({d.EvaluationPath}): {error.Value}"))
            .Distinct()
            .ToList();
        yield return $"{what} does not match its AsyncAPI schema: {instance.GetRawText()}\n  " + string.Join("\n  ", errors.Count > 0 ? errors : ["(no detail)"]);
    }

    private static List<Channel> ReadChannels(JsonObject document)
    {
        var channels = new List<Channel>();
        foreach (var (name, node) in document["channels"]!.AsObject())
        {
            var address = node!["address"]!.GetValue<string>();
            var pattern = "(^|/)" + Regex.Replace(Regex.Escape(address.TrimStart('/')), @"\\\{[^}]+}", "[^/]+") + "$";
            var messages = new Dictionary<string, Message>();
            foreach (var (_, reference) in node["messages"]!.AsObject())
            {
                var message = Resolve(reference!, document).AsObject();
                var messageName = message["name"]!.GetValue<string>();
                messages[messageName] = new Message(
                    Schema(message["headers"]!), Schema(message["payload"]!),
                    [.. (message["examples"]?.AsArray() ?? []).Select(x => new SseEvent(
                        x!["headers"]?["id"]?.GetValue<string>(), x["headers"]?["event"]?.GetValue<string>() ?? messageName, x["payload"]!.ToJsonString()))]);
            }
            channels.Add(new Channel(name, address, new Regex(pattern, RegexOptions.CultureInvariant), messages));
        }
        return channels;
    }

    private static readonly ConcurrentDictionary<string, JsonSchema> Schemas = new();

    private static JsonSchema Schema(JsonNode node)
    {
        var text = node.ToJsonString();
        return Schemas.GetOrAdd(text, t => JsonSchema.FromText(t, Build));
    }

    /// <summary>
    /// A copy of <paramref name="node"/> with every local reference ("#/components/schemas/JobId") replaced by what it
    /// points to: a message's schemas then stand alone. The document has no cycles, and in AsyncAPI's schema format (JSON
    /// Schema draft 7) a $ref's sibling keywords are ignored, as they are here.
    /// </summary>
    private static JsonNode Resolve(JsonNode node, JsonObject document) => node switch
    {
        JsonObject o when o["$ref"] is JsonValue reference => Resolve(Pointer(reference.GetValue<string>(), document), document),
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, p.Value is null ? null : Resolve(p.Value, document)))),
        JsonArray a => new JsonArray([.. a.Select(item => item is null ? null : Resolve(item, document))]),
        _ => node.DeepClone(),
    };

    private static JsonNode Pointer(string reference, JsonObject document)
    {
        if (!reference.StartsWith("#/", StringComparison.Ordinal))
            throw new InvalidOperationException($"Only local references are read: {reference}");
        JsonNode? at = document;
        foreach (var token in reference[2..].Split('/'))
            at = at?[token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)];
        return at ?? throw new InvalidOperationException($"{reference} points to nothing in {Path}");
    }

    private sealed record Channel(string Name, string Template, Regex Address, IReadOnlyDictionary<string, Message> Messages);

    private sealed record Message(JsonSchema Headers, JsonSchema Payload, IReadOnlyList<SseEvent> Examples);
}
