using System.Net;
using EventSourced.Api.Contract;
using EventSourced.Api.Http;
using EventSourced.TestSupport;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace EventSourced.Api.Tests;

/// <summary>
/// The contract at /openapi/v1.json: it loads without diagnostics, names every route the service maps, and equals the copy
/// committed in docs/api/openapi.json. To refresh the copy after a deliberate change:
/// UPDATE_OPENAPI=1 dotnet test tests/Api.Tests --filter FullyQualifiedName~OpenApiTests
/// </summary>
public sealed class OpenApiTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private static readonly string CommittedCopy = Path.Combine(Repository.Root.FullName, "docs", "api", "openapi.json");

    /// <summary>
    /// Routes that are not the API but documents about it (the AsyncAPI one describes the event streams this one points to);
    /// the reference page's routes are known by their page policy.
    /// </summary>
    private static readonly string[] NotInTheContract = [ContractModule.DocumentRoute, AsyncApiDocument.Route];

    [Fact]
    public async Task The_document_is_served_to_anyone_as_OpenAPI_3_1_and_loads_without_diagnostics()
    {
        using var anonymous = api.Host.Server.CreateClient();
        using var response = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());

        var text = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("{\n  \"openapi\": \"3.1", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        var (document, diagnostic) = await Load(text);
        Assert.True(diagnostic.Errors.Count == 0, string.Join("\n", diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.True(diagnostic.Warnings.Count == 0, string.Join("\n", diagnostic.Warnings.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.NotEmpty(document.Paths);
    }

    [Fact]
    public async Task Every_route_the_service_maps_is_in_the_document_with_its_method()
    {
        var (document, _) = await Load(await Served());
        var missing = Routes(api).Where(r => !Operations(document).Contains(r)).ToList();
        Assert.True(missing.Count == 0, "Routes missing from /openapi/v1.json: " + string.Join(", ", missing));
        var unknown = Operations(document).Where(o => !Routes(api).Contains(o)).ToList();
        Assert.True(unknown.Count == 0, "Operations in /openapi/v1.json that no route serves: " + string.Join(", ", unknown));
    }

    [Fact]
    public async Task The_committed_copy_in_docs_api_is_the_served_document()
    {
        var served = await Served();
        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1")
            await File.WriteAllTextAsync(CommittedCopy, served);
        var committed = File.Exists(CommittedCopy) ? await File.ReadAllTextAsync(CommittedCopy) : "";
        Assert.True(committed.ReplaceLineEndings("\n") == served.ReplaceLineEndings("\n"),
            "docs/api/openapi.json is not the served document. If the change is meant, refresh it: "
            + "UPDATE_OPENAPI=1 dotnet test tests/Api.Tests --filter FullyQualifiedName~OpenApiTests, and commit it.");
    }

    private async Task<string> Served()
    {
        using var anonymous = api.Host.Server.CreateClient();
        return await anonymous.GetStringAsync("/openapi/v1.json");
    }

    internal static async Task<(OpenApiDocument Document, OpenApiDiagnostic Diagnostic)> Load(string text)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        var result = await OpenApiDocument.LoadAsync(stream, "json");
        return (result.Document ?? throw new InvalidOperationException("The document did not load."), result.Diagnostic!);
    }

    /// <summary>"GET /jobs/{id}" for every method of every route endpoint (route constraints dropped, as OpenAPI paths have none).</summary>
    internal static HashSet<string> Routes(ApiFixture api) =>
    [
        .. api.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !NotInTheContract.Contains(e.RoutePattern.RawText) && e.Metadata.GetMetadata<PageSecurityPolicy>() is null)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => $"{m} /{string.Join("/", e.RoutePattern.PathSegments.Select(Segment))}")),
    ];

    private static string Segment(Microsoft.AspNetCore.Routing.Patterns.RoutePatternPathSegment segment) => string.Concat(segment.Parts.Select(p => p switch
    {
        Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
        Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
        _ => p.ToString(),
    }));

    private static HashSet<string> Operations(OpenApiDocument document) =>
    [
        .. document.Paths.SelectMany(p => (p.Value.Operations ?? []).Select(o => $"{o.Key.Method.ToUpperInvariant()} {p.Key}")),
    ];
}

/// <summary>The check every test client's answers go through fails on what the document does not say.</summary>
public sealed class ContractCheckTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private const string Job = "/jobs/0193b1c4-7a3e-7000-8000-000000000001";

    [Fact]
    public void A_status_the_route_does_not_list_is_a_breach()
    {
        Assert.Null(api.Contract.Check("GET", Job, 200, null, null));
        Assert.Contains("does not list", api.Contract.Check("GET", Job, 418, null, null));
        Assert.Contains("does not list", api.Contract.Check("POST", "/jobs", 200, null, null));
    }

    [Fact]
    public void A_problem_code_its_status_does_not_list_is_a_breach()
    {
        const string problem = "application/problem+json";
        Assert.Null(api.Contract.Check("POST", Job + "/cancel", 409, problem, """{"title":"Conflict","status":409,"code":"job_already_finished"}"""));
        Assert.Contains("$.code", api.Contract.Check("POST", Job + "/cancel", 409, problem, """{"title":"Conflict","status":409,"code":"lease_expired"}"""));
    }

    [Fact]
    public void A_body_that_does_not_match_its_schema_or_media_type_is_a_breach()
    {
        Assert.Null(api.Contract.Check("GET", "/health", 200, "application/json", """{"status":"healthy","notifications":"listening"}"""));
        Assert.Contains("$.status", api.Contract.Check("GET", "/health", 200, "application/json", """{"status":5,"notifications":"listening"}"""));
        Assert.Contains("lacks required 'notifications'", api.Contract.Check("GET", "/health", 200, "application/json", """{"status":"healthy"}"""));
        Assert.Contains("does not list", api.Contract.Check("GET", "/health", 200, "text/html", "<p>healthy</p>"));
    }

    [Fact]
    public void A_path_no_route_has_may_only_be_refused()
    {
        Assert.Null(api.Contract.Check("GET", "/nothing-here", 404, null, null));
        Assert.Null(api.Contract.Check("DELETE", Job, 405, null, null));
        Assert.Contains("no DELETE operation", api.Contract.Check("DELETE", Job, 200, null, null));
    }

    [Fact]
    public async Task A_test_client_fails_the_request_when_the_answer_breaks_the_document()
    {
        // A problem code this route does not list, as a bug would answer it: the checking handler must throw.
        var check = new ContractCheck(await api.Host.Server.CreateClient().GetStringAsync("/openapi/v1.json"));
        using var client = new HttpClient(new ContractCheckingHandler(() => check) { InnerHandler = new Answering(418) }) { BaseAddress = new Uri("http://localhost") };
        var breach = await Assert.ThrowsAsync<ContractBreach>(() => client.GetAsync("/health"));
        Assert.Contains("GET /health answered 418", breach.Message, StringComparison.Ordinal);
    }

    private sealed class Answering(int status) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
            Task.FromResult(new HttpResponseMessage((HttpStatusCode)status) { RequestMessage = request });
    }
}

/// <summary>The document's examples are what its schemas describe: an example a client copies must be accepted.</summary>
public sealed class OpenApiExampleTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public void Every_example_in_the_document_matches_its_schema()
    {
        var examples = api.Contract.Examples().ToList();
        Assert.True(examples.Count > 20, $"Only {examples.Count} examples.");
        var wrong = examples.Select(e => (e.Where, Errors: api.Contract.Errors(e.Example, e.Schema))).Where(e => e.Errors.Count > 0).ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Select(w => $"{w.Where}: {string.Join("; ", w.Errors)}")));
    }
}
