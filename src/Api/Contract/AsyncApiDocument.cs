using Microsoft.AspNetCore.Authorization;

namespace EventSourced.Api.Contract;

/// <summary>
/// GET /asyncapi/v1.json: the AsyncAPI 3.0 document of the event streams, beside the OpenAPI document of the rest. It is
/// docs/api/asyncapi.json as kept in the repository (linted by tools/contract/lint, and every SSE event the tests read is
/// checked against it), embedded in the assembly. Anonymous, as a contract is no secret. A minimal-API route rather than a
/// Wolverine endpoint: it serves a constant, with nothing for Wolverine to generate.
/// </summary>
public static class AsyncApiDocument
{
    public const string Route = "/asyncapi/v1.json";

    private static readonly Lazy<byte[]> Json = new(() =>
    {
        using var stream = typeof(AsyncApiDocument).Assembly.GetManifestResourceStream("asyncapi.json")
            ?? throw new InvalidOperationException("The AsyncAPI document is not embedded: see Api.csproj.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IEndpointRouteBuilder MapAsyncApiDocument(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Route, [AllowAnonymous] () => TypedResults.Bytes(Json.Value, "application/json"))
            .WithName("AsyncApiDocument")
            .ExcludeFromDescription();
        return endpoints;
    }
}
