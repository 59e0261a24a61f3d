namespace EventSourced.Api.Contract;

// What an endpoint answers and takes, declared beside it. Endpoints that read their body with the strict reader
// (JsonBody) and answer IResult say nothing ApiExplorer can see; these attributes say it, the operation transformer
// writes them into the document, and the API tests check every answer they get against that document.

/// <summary>A success (or redirect) answer: its status, its body's type (none: no body) and the headers it carries.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class RespondsAttribute(int status, Type? body = null) : Attribute
{
    public int Status { get; } = status;
    public Type? Body { get; } = body;

    /// <summary>The body's media types (application/json when there is a body and none is named).</summary>
    public string[] ContentTypes { get; init; } = [];

    /// <summary>Response headers, by name: <see cref="ContractHeaders"/> describes each.</summary>
    public string[] Headers { get; init; } = [];

    public string? Description { get; init; }

    /// <summary>An example body, as JSON (a test checks it against the body's schema).</summary>
    public string? Example { get; init; }
}

/// <summary>A problem answer (application/problem+json): its status and every <c>code</c> it may carry.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ProblemsAttribute(int status, params string[] codes) : Attribute
{
    public int Status { get; } = status;
    public string[] Codes { get; } = codes;

    /// <summary>Response headers, by name: <see cref="ContractHeaders"/> describes each.</summary>
    public string[] Headers { get; init; } = [];
}

/// <summary>The JSON body the endpoint reads (strictly: unknown fields, wrong types and U+0000 are 400 validation_failed).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequestBodyAttribute(Type body) : Attribute
{
    public Type Body { get; } = body;

    /// <summary>False when an empty body is taken as the empty object.</summary>
    public bool Required { get; init; } = true;

    /// <summary>An example body, as JSON (a test checks it against the body's schema).</summary>
    public string? Example { get; init; }
}

/// <summary>Request headers the endpoint reads, by name: <see cref="ContractHeaders"/> describes each.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequestHeadersAttribute(params string[] names) : Attribute
{
    public string[] Names { get; } = names;

    /// <summary>Those of <see cref="Names"/> without which the request is refused.</summary>
    public string[] Required { get; init; } = [];
}

/// <summary>Query parameters an endpoint reads by hand, as the document lists them.</summary>
public interface IQueryParameters
{
    IEnumerable<QueryAttribute> Parameters { get; }
}

/// <summary>A query parameter the endpoint reads by hand.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class QueryAttribute(string name, Type type, string description) : Attribute, IQueryParameters
{
    public string Name { get; } = name;
    public Type Type { get; } = type;
    public string Description { get; } = description;

    public IEnumerable<QueryAttribute> Parameters => [this];
}
