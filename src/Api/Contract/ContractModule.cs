using EventSourced.Api.Http;
using Microsoft.OpenApi;

namespace EventSourced.Api.Contract;

/// <summary>
/// The HTTP contract as an OpenAPI 3.1 document at /openapi/v1.json, built by ASP.NET Core from the endpoints' own metadata
/// (Wolverine's endpoints feed ApiExplorer), with transformers for what every route shares. docs/api/openapi.json is a
/// copy that a test keeps equal to it, so a change to the contract shows in a diff.
/// </summary>
public static class ContractModule
{
    public const string DocumentName = "v1";
    public const string DocumentRoute = "/openapi/{documentName}.json";

    public static IServiceCollection AddContract(this IServiceCollection services) => services.AddOpenApi(DocumentName, options =>
    {
        options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
        options.AddOperationTransformer<ContractTransformer>();
        // Null members are left out of every answer (JsonIgnoreCondition.WhenWritingNull): one that may be null is never required.
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (schema.Required is { Count: > 0 } required)
            {
                foreach (var property in context.JsonTypeInfo.Properties.Where(p => p.IsGetNullable))
                    required.Remove(property.Name);
            }
            return Task.CompletedTask;
        });
        options.AddSchemaTransformer(ValidatorSchemas.Transform);
        options.AddDocumentTransformer((document, context, _) =>
        {
            document.Info.Title = "EventSourced jobs";
            document.Info.Version = "1";
            document.Info.Description = "Long-running jobs, accepted once, recorded as events, followed live or polled. "
                + "The event streams are described by the AsyncAPI document at /asyncapi/v1.json.";
            document.Info.License = new OpenApiLicense { Name = "MIT", Identifier = "MIT" };
            // Where the service answers for clients: the setting when there is one. Otherwise none, which OpenAPI reads as the
            // document's own host (and the committed copy does not depend on who asked for it). Not "/": the reference page
            // (Scalar) sends no request to a bare relative server.
            if (context.ApplicationServices.GetRequiredService<PublicUrls>().Base(null) is { Length: > 0 } publicBase)
                document.Servers = [new OpenApiServer { Url = publicBase }];
            else
                document.Servers?.Clear();
            // Paths in order, so the document (and its committed copy) does not change with the order endpoints are found in.
            var paths = new OpenApiPaths();
            foreach (var (path, item) in document.Paths.OrderBy(p => p.Key, StringComparer.Ordinal))
                paths.Add(path, item);
            document.Paths = paths;
            return Task.CompletedTask;
        });
        options.AddDocumentTransformer<ContractTransformer>();
    });

    /// <summary>Served to anyone: the contract is no secret, and a client reads it before it has a key.</summary>
    public static void MapContract(this IEndpointRouteBuilder app) =>
        app.MapOpenApi(DocumentRoute).AllowAnonymous();
}
