using System.Security.Cryptography;
using System.Text;
using EventSourced.Api.Http;
using Scalar.AspNetCore;

namespace EventSourced.Api.Contract;

/// <summary>
/// GET /reference: a page that shows the OpenAPI document and sends its calls, with a key the user pastes, to this service.
/// Scalar's page and script come from its package, served from here: nothing is fetched from another host (no fonts, no
/// proxy, no telemetry, no AI agent), so the page works with no internet. Anonymous: it holds no data, and what it calls
/// needs the key. Its own routes get a Content-Security-Policy that lets the page run; every other answer keeps the API's.
/// </summary>
public static class ReferencePage
{
    public const string Route = "/reference";

    /// <summary>
    /// Zod, inside Scalar's script, probes for eval with <c>Function("")</c>, which the policy refuses (a violation in the
    /// console), and then runs without it. Told to run without eval (its documented <c>jitless</c> setting), it does not probe.
    /// A constant, let in by its hash.
    /// </summary>
    private const string WithoutEval = "globalThis.__zod_globalConfig = { jitless: true };";

    private static readonly string WithoutEvalHash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(WithoutEval)));

    /// <summary>
    /// What the page needs, and no more: its scripts from here, its inline script only with the nonce made for this answer,
    /// and the setting above by its hash; no eval; styles from here and the ones its script writes into the page (Vue's,
    /// in style elements and attributes); images and calls to this service only; no framing.
    /// </summary>
    private static string Policy(HttpContext http) => string.Join("; ",
        "default-src 'none'",
        http.Items[ScalarOptions.NonceHttpContextItemKey] is string nonce
            ? $"script-src 'self' 'nonce-{nonce}' 'sha256-{WithoutEvalHash}'"
            : $"script-src 'self' 'sha256-{WithoutEvalHash}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'");

    public static void MapReferencePage(this IEndpointRouteBuilder app) =>
        app.MapScalarApiReference(Route, options => options
                .WithTitle("EventSourced jobs: API reference")
                .AddHeadContent($"<script>{WithoutEval}</script>")
                .WithOpenApiRoutePattern(ContractModule.DocumentRoute)
                .AddDocument(ContractModule.DocumentName)
                // Offline: the fonts would come from Scalar's CDN; usage figures, the AI agent, the developer tools (share,
                // generate an SDK, deploy) and the "Open API Client" button (client.scalar.com) are scalar.com's services.
                .DisableDefaultFonts()
                .DisableTelemetry()
                .DisableAgent()
                .DisableMcp()
                .HideDeveloperTools()
                .HideClientButton()
                // Every operation listed at once, not only those of the tag in the URL.
                .ExpandAllTags()
                .AddPreferredSecuritySchemes([ContractTransformer.BearerScheme])
                .WithNonce())
            .AllowAnonymous()
            .WithMetadata(new PageSecurityPolicy(Policy));
}
