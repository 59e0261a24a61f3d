using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using EventSourced.Api.Contract;
using EventSourced.Api.Http;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>The reference page's headers: only its own routes relax the Content-Security-Policy; the API's answers keep theirs.</summary>
public sealed partial class ReferencePageTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    [Fact]
    public async Task The_page_is_served_to_anyone_with_a_policy_of_its_own_and_every_API_answer_keeps_the_strict_one()
    {
        using var anonymous = api.Host.Server.CreateClient();
        var page = await anonymous.GetAsync($"{ReferencePage.Route}/");
        var html = await page.Content.ReadAsStringAsync();

        Assert.Equal((HttpStatusCode.OK, "text/html"), (page.StatusCode, page.Content.Headers.ContentType?.MediaType));
        var policy = Directives(page);
        // Its inline script runs only with this answer's nonce; nothing but this service is reached, nothing else frames it.
        var nonce = Nonce().Match(html).Groups[1].Value;
        Assert.NotEmpty(nonce);
        Assert.Equal("'none'", policy["default-src"]);
        Assert.StartsWith($"'self' 'nonce-{nonce}' 'sha256-", policy["script-src"], StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", policy["script-src"], StringComparison.Ordinal);
        Assert.Equal("'self'", policy["connect-src"]);
        Assert.Equal("'none'", policy["frame-ancestors"]);
        Assert.DoesNotContain("http", string.Join(" ", policy.Values), StringComparison.Ordinal);
        // A nonce is made for each answer.
        Assert.NotEqual(nonce, Nonce().Match(await anonymous.GetStringAsync($"{ReferencePage.Route}/")).Groups[1].Value);
        // The rest of the API's headers stay as they are.
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("no-store", page.Headers.CacheControl?.ToString());

        // Its script comes from the service itself, to anyone.
        var script = await anonymous.GetAsync($"{ReferencePage.Route}/scalar.js");
        Assert.Equal((HttpStatusCode.OK, "text/javascript"), (script.StatusCode, script.Content.Headers.ContentType?.MediaType));

        // The API's answers, documents, successes, refusals and errors alike, keep the policy that lets nothing run.
        var client = api.CreateClient();
        HttpResponseMessage[] answers =
        [
            await anonymous.GetAsync("/openapi/v1.json"), await anonymous.GetAsync(AsyncApiDocument.Route), await anonymous.GetAsync("/health"),
            await anonymous.GetAsync("/jobs"), await client.GetAsync("/jobs"), await client.GetAsync($"/jobs/{Guid.NewGuid()}"),
            await client.GetAsync("/nothing-here"),
        ];
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Unauthorized, HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.NotFound],
            answers.Select(a => a.StatusCode));
        foreach (var answer in answers)
            Assert.Equal(SecurityHeaders.ApiContentSecurityPolicy, answer.Headers.GetValues("Content-Security-Policy").Single());
    }

    private static Dictionary<string, string> Directives(HttpResponseMessage response) =>
        response.Headers.GetValues("Content-Security-Policy").Single().Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(d => d.Split(' ', 2)).ToDictionary(d => d[0], d => d.Length > 1 ? d[1] : "");

    [GeneratedRegex("""<script type="module" nonce="([^"]+)">""")]
    private static partial Regex Nonce();
}

/// <summary>
/// The reference page in a real browser (Debian's chromium, driven by tests/browser/reference-page.test.mjs): the real service,
/// a key made by the operator's command, and the user's steps on the page. Fails with what node printed.
/// </summary>
public sealed class ReferencePageBrowserTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task In_a_browser_the_page_lists_every_operation_reaches_only_the_service_and_tries_a_call_with_a_pasted_key()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString };
        var (exitCode, created) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "default", "--role", "client");
        Assert.True(exitCode == 0, created);
        var key = created.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal));
        await using var service = await ApiProcess.StartHealthy(settings);

        var (status, output) = await Node("reference-page.test.mjs", new()
        {
            ["BASE_URL"] = service.BaseAddress.ToString(),
            ["API_KEY"] = key,
        });

        Assert.True(status == 0, $"tests/browser/run reference-page.test.mjs exited with {status}:\n{output}");
    }

    /// <summary>tests/browser/run (node --test, after npm ci on first use) on one file: its exit code and all it printed.</summary>
    private static async Task<(int ExitCode, string Output)> Node(string file, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(Path.Combine(Repository.Root.FullName, "tests", "browser", "run"), [file]);
        foreach (var (name, value) in environment)
            info.Environment[name] = value;
        return await ChildProcess.Run(info, Patience.ProcessStart);
    }
}
