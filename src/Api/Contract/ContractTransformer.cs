using System.Text.Json.Nodes;
using EventSourced.Api.Access;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;

namespace EventSourced.Api.Contract;

/// <summary>The headers the contract names, each described once.</summary>
public static class ContractHeaders
{
    public static readonly IReadOnlyDictionary<string, (string Description, JsonSchemaType Type)> All = new Dictionary<string, (string, JsonSchemaType)>
    {
        ["Idempotency-Key"] = ("A new unique value (a UUID) per piece of work, the same again on a retry; at most 255 characters.", JsonSchemaType.String),
        ["Location"] = ("The absolute URL of the resource (the job's status; after a 303, its result).", JsonSchemaType.String),
        ["Retry-After"] = ("Seconds after which asking again is worth it.", JsonSchemaType.Integer),
        ["ETag"] = ("The job's version as an entity tag, such as \"3\".", JsonSchemaType.String),
        ["If-Match"] = ("An ETag of the job (\"3\") or *: the change is made only at that version, else 412 version_mismatch.", JsonSchemaType.String),
        ["If-None-Match"] = ("The ETag the client has: 304 when the job is still at it (held first with Prefer: wait=N).", JsonSchemaType.String),
        ["Prefer"] = ("wait=N (RFC 7240): hold the request up to N seconds (cut to 60) until something changes.", JsonSchemaType.String),
        ["Preference-Applied"] = ("wait=N when the request was held as Prefer asked.", JsonSchemaType.String),
        ["Idempotent-Replayed"] = ("true when this answers an earlier request with the same Idempotency-Key.", JsonSchemaType.String),
        ["Last-Event-ID"] = ("The id of the last event received: the stream resumes after it.", JsonSchemaType.String),
        ["WWW-Authenticate"] = ("Bearer: how to authenticate.", JsonSchemaType.String),
        ["Feed-Horizon"] = ("The global sequence number the export stops at (the feed's high-water mark).", JsonSchemaType.Integer),
        ["webhook-id"] = ("Standard Webhooks: the message id, the same on every retry.", JsonSchemaType.String),
        ["webhook-timestamp"] = ("Standard Webhooks: Unix seconds when it was signed.", JsonSchemaType.String),
        ["webhook-signature"] = ("Standard Webhooks: `v1,<base64 HMAC-SHA256>`, space-separated.", JsonSchemaType.String),
    };
}

/// <summary>
/// Writes each endpoint's declared contract (<see cref="RespondsAttribute"/>, <see cref="ProblemsAttribute"/>, ...) into its
/// operation, and adds what every route shares: the bearer scheme and the roles its policy names, and the problems any route
/// may answer before it runs (401, 403, 414, 429, 431, 503, a route parameter that does not bind).
/// </summary>
public sealed class ContractTransformer(IAuthorizationPolicyProvider policies) : IOpenApiOperationTransformer, IOpenApiDocumentTransformer
{
    public const string BearerScheme = "bearer";
    public const string StreamTokenScheme = "streamToken";
    public const string ProblemSchema = "Problem";
    public const string AsyncApiDocument = "/asyncapi/v1.json";

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var document = context.Document!;
        var responds = metadata.OfType<RespondsAttribute>().ToList();
        var problems = metadata.OfType<ProblemsAttribute>().Select(p => (p.Status, p.Codes, p.Headers)).ToList();
        var body = metadata.OfType<RequestBodyAttribute>().FirstOrDefault();
        var anonymous = metadata.OfType<IAllowAnonymous>().Any();
        var policy = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null);
        var holdsOpen = metadata.OfType<EnableRateLimitingAttribute>().Any(r => r.PolicyName == AccessModule.OpenStreams);
        var path = context.Description.RelativePath ?? "";

        // Wolverine describes an operation by its route's name (POST_jobs) and sums it up with the method's XML summary, when it has
        // one: the endpoint's own one-line summary goes first, and that longer text becomes the description.
        var routeName = operation.Description is { } d && System.Text.RegularExpressions.Regex.IsMatch(d, "^[A-Z]+_[A-Za-z0-9_]*$") ? d : null;
        if (routeName is not null)
            operation.Description = operation.Summary == routeName ? null : operation.Summary;
        operation.Summary = metadata.OfType<IEndpointSummaryMetadata>().LastOrDefault()?.Summary ?? operation.Summary;
        if (operation.Description == operation.Summary)
            operation.Description = null;
        operation.Tags = new HashSet<OpenApiTagReference> { new(Area(path), document) };

        // What any route may answer before (or around) its own code.
        problems.Add((StatusCodes.Status400BadRequest, ["bad_request"], []));
        problems.Add((StatusCodes.Status414UriTooLong, ["url_too_long"], []));
        problems.Add((StatusCodes.Status431RequestHeaderFieldsTooLarge, ["headers_too_large"], []));
        problems.Add((StatusCodes.Status429TooManyRequests, holdsOpen ? ["rate_limited", "too_many_streams"] : ["rate_limited"], ["Retry-After"]));
        problems.Add((StatusCodes.Status503ServiceUnavailable, ["database_unavailable"], ["Retry-After"]));
        if (path.Contains('{', StringComparison.Ordinal))
            problems.Add((StatusCodes.Status404NotFound, ["not_found"], []));
        if (body is not null)
        {
            problems.Add((StatusCodes.Status400BadRequest, ["malformed_json", "json_too_deep", "validation_failed"], []));
            problems.Add((StatusCodes.Status413PayloadTooLarge, ["body_too_large"], []));
            problems.Add((StatusCodes.Status415UnsupportedMediaType, ["unsupported_media_type"], []));
        }
        if (anonymous)
        {
            // An empty requirement: no credentials at all (leaving security out would say nothing either way).
            operation.Security = [new OpenApiSecurityRequirement()];
        }
        else
        {
            problems.Add((StatusCodes.Status401Unauthorized, ["unauthenticated", "invalid_credentials", "credential_too_long"], ["WWW-Authenticate"]));
            problems.Add((StatusCodes.Status403Forbidden, ["forbidden"], []));
            await Secure(operation, document, policy);
        }

        if (responds.Count > 0)
        {
            operation.Responses = [];
            foreach (var r in responds)
                operation.Responses[r.Status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = await Response(r, context, document, ct);
        }
        operation.Responses ??= [];
        foreach (var group in problems.GroupBy(p => p.Status).OrderBy(g => g.Key))
        {
            var codes = group.SelectMany(p => p.Codes).Distinct().ToList();
            var headers = group.SelectMany(p => p.Headers).Distinct().ToList();
            operation.Responses[group.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)] = ProblemResponse(group.Key, codes, headers, document);
        }
        operation.Responses = Sorted(operation.Responses);

        if (body is not null)
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = body.Required,
                Description = body.Required ? null : "Optional: an empty body is the empty object.",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = await Schema(body.Body, context, document, ct), Example = Json(body.Example) },
                },
            };
        }
        operation.Parameters ??= [];
        if (metadata.OfType<RequestHeadersAttribute>().FirstOrDefault() is { } requestHeaders)
        {
            foreach (var name in requestHeaders.Names)
            {
                var (description, type) = ContractHeaders.All[name];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = name, In = ParameterLocation.Header, Required = requestHeaders.Required.Contains(name), Description = description,
                    Schema = new OpenApiSchema { Type = type },
                });
            }
        }
        foreach (var query in metadata.OfType<IQueryParameters>().SelectMany(q => q.Parameters))
        {
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = query.Name, In = ParameterLocation.Query, Description = query.Description,
                Schema = await context.GetOrCreateSchemaAsync(query.Type, null, ct),
            });
        }
        if (responds.Any(r => r.ContentTypes.Contains("text/event-stream")))
        {
            operation.ExternalDocs = new OpenApiExternalDocs
            {
                Description = "The events of this stream, their names and payloads, are described by the AsyncAPI document.",
                Url = new Uri(AsyncApiDocument, UriKind.Relative),
            };
        }
    }

    /// <summary>The bearer scheme and the roles the route's policy lets in (any one of them), in OpenAPI 3.1's list of role names.</summary>
    private async Task Secure(OpenApiOperation operation, OpenApiDocument document, string? policyName)
    {
        var policy = policyName is null ? null : await policies.GetPolicyAsync(policyName);
        var roles = policy?.Requirements.OfType<RolesAuthorizationRequirement>().SelectMany(r => r.AllowedRoles).ToList() ?? [];
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = roles }];
        var who = roles.Count > 0 ? $"a key with any of the roles {string.Join(", ", roles)}" : "any valid key";
        if (policyName == AccessPolicies.FollowJob)
        {
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(StreamTokenScheme, document)] = [] });
            who = $"a key with any of the roles {Roles.Client}, {Roles.Auditor}, {Roles.Admin}, or this job's stream token (the eventsUrl's access_token)";
        }
        operation.Description = (operation.Description is { Length: > 0 } d ? d + "\n\n" : "") + $"Needs {who}.";
    }

    private static async Task<OpenApiResponse> Response(RespondsAttribute r, OpenApiOperationTransformerContext context, OpenApiDocument document, CancellationToken ct)
    {
        var response = new OpenApiResponse
        {
            Description = r.Description ?? ReasonPhrase(r.Status),
            Headers = r.Headers.ToDictionary(h => h, h => Header(h)),
        };
        var types = r.ContentTypes.Length > 0 ? r.ContentTypes : r.Body is null ? [] : ["application/json"];
        if (types.Length > 0)
        {
            response.Content = new Dictionary<string, OpenApiMediaType>();
            foreach (var type in types)
            {
                // JSON as its type says, text as a string; any other media type (a result's own) has no schema to give.
                response.Content[type] = new OpenApiMediaType
                {
                    Schema = type.Contains("json", StringComparison.Ordinal) && r.Body is { } t ? await Schema(t, context, document, ct)
                        : type.StartsWith("text/", StringComparison.Ordinal) ? new OpenApiSchema { Type = JsonSchemaType.String } : null,
                    Example = type == "application/json" ? Json(r.Example) : null,
                };
            }
        }
        return response;
    }

    private static OpenApiResponse ProblemResponse(int status, List<string> codes, List<string> headers, OpenApiDocument document) => new()
    {
        Description = $"{ReasonPhrase(status)}: {string.Join(", ", codes)}",
        Headers = headers.ToDictionary(h => h, h => Header(h)),
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/problem+json"] = new()
            {
                Schema = new OpenApiSchema
                {
                    AllOf = [new OpenApiSchemaReference(ProblemSchema, document)],
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. codes.Select(c => (JsonNode)JsonValue.Create(c))] },
                    },
                },
                Examples = codes.ToDictionary(c => c, c => (IOpenApiExample)new OpenApiExample
                {
                    Value = new JsonObject { ["title"] = ReasonPhrase(status), ["status"] = status, ["code"] = c },
                }),
            },
        },
    };

    private static IOpenApiHeader Header(string name) =>
        ContractHeaders.All.TryGetValue(name, out var h)
            ? new OpenApiHeader { Description = h.Description, Schema = new OpenApiSchema { Type = h.Type } }
            : throw new InvalidOperationException($"Header {name} is not described in ContractHeaders.");

    /// <summary>A schema of a request or response type, as a component referenced by name.</summary>
    private static async Task<IOpenApiSchema> Schema(Type type, OpenApiOperationTransformerContext context, OpenApiDocument document, CancellationToken ct)
    {
        var schema = await context.GetOrCreateSchemaAsync(type, null, ct);
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas.TryAdd(type.Name, schema);
        return new OpenApiSchemaReference(type.Name, document);
    }

    private static JsonNode? Json(string? example) => example is null ? null : JsonNode.Parse(example);

    private static OpenApiResponses Sorted(OpenApiResponses responses)
    {
        var sorted = new OpenApiResponses();
        foreach (var (status, response) in responses.OrderBy(r => r.Key, StringComparer.Ordinal))
            sorted[status] = response;
        return sorted;
    }

    /// <summary>The part of the API a path belongs to, by who calls it.</summary>
    private static string Area(string path) => path.Split('/')[0] switch
    {
        "workers" => "Workers",
        "events" or "stats" => "Audit",
        "dead-letters" or "health" => "Operations",
        "webhooks" => "Provider webhooks",
        _ => "Jobs",
    };

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);

    /// <summary>The schemes, the problem's shape, and nothing left over from the generator's view of IResult.</summary>
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http, Scheme = "bearer",
            Description = "An API key (`esk_...`): `Authorization: Bearer <key>`. A key belongs to one tenant and has roles: "
                + "client, worker, auditor, admin. Each operation's security lists the roles it lets in (any one of them).",
        };
        document.Components.SecuritySchemes[StreamTokenScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Query, Name = AccessAuthentication.StreamTokenParameter,
            Description = "A short-lived token for one job's event stream, in the eventsUrl that GET /jobs/{id} and POST /jobs answer (an EventSource sends no headers).",
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas.Remove("IResult");
        document.Components.Schemas[ProblemSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "RFC 9457 problem details with a stable, machine-readable code.",
            Required = new HashSet<string> { "status", "title", "code" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["code"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object, Description = "validation_failed: the errors per field, keyed by the field's path (input.fileId).",
                    AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                },
            },
        };
        document.Tags = new HashSet<OpenApiTag>
        {
            new() { Name = "Jobs", Description = "Submit jobs, follow them, read their results (clients)." },
            new() { Name = "Workers", Description = "Claim and run jobs from outside the service (workers)." },
            new() { Name = "Audit", Description = "Histories, the global event feed and statistics (auditors)." },
            new() { Name = "Operations", Description = "Health and dead letters (operators)." },
            new() { Name = "Provider webhooks", Description = "Outcomes reported by providers, signed." },
        };
        document.Components.Schemas = new SortedDictionary<string, IOpenApiSchema>(document.Components.Schemas, StringComparer.Ordinal);
        return Task.CompletedTask;
    }
}
