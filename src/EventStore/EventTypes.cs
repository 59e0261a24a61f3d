using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventSourced.EventStore;

/// <summary>
/// Maps event records to the stable names they are stored under ("job.submitted"), never to a
/// CLR name, so renaming a C# type does not break history, and serializes them as JSON.
/// </summary>
public sealed class EventTypes
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly Dictionary<string, Type> _typesByName = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, string> _namesByType = [];

    public EventTypes Register(string name, Type type)
    {
        if (_typesByName.TryGetValue(name, out var existing) && existing != type)
            throw new ArgumentException($"The event type name '{name}' is already mapped to {existing.Name}.", nameof(name));
        _typesByName[name] = type;
        _namesByType[type] = name;
        return this;
    }

    public string NameOf(Type type) =>
        _namesByType.TryGetValue(type, out var name)
            ? name
            : throw new ArgumentException($"{type.Name} is not a registered event type: register it with a stable name first.", nameof(type));

    public Type TypeOf(string name) =>
        _typesByName.TryGetValue(name, out var type) ? type : throw new UnknownEventTypeException(name);

    public string Serialize(object data) => JsonSerializer.Serialize(data, data.GetType(), Json);

    public object Deserialize(string name, string json) =>
        JsonSerializer.Deserialize(json, TypeOf(name), Json)
        ?? throw new JsonException($"The stored '{name}' event is null.");
}
