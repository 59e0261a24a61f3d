using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EventSourced.Api.Access;
using EventSourced.Api.Http;
using EventSourced.Scheduling;
using EventSourced.TestSupport;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Tests;

/// <summary>Who may call what: keys, roles, tenants, browsers' stream tokens.</summary>
public sealed class AccessTests(ApiForAccess api) : IClassFixture<ApiForAccess>
{
    private static readonly string[] Anonymous = ["GET health", "POST webhooks/{provider}", "GET openapi/{documentName}.json", "GET asyncapi/v1.json"];

    private IReadOnlyList<RouteEndpoint> Routes =>
        [.. api.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>() is not null)];

    private static string Name(RouteEndpoint route) =>
        $"{route.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Single()} {route.RoutePattern.RawText!.TrimStart('/')}";

    /// <summary>A page's routes (the reference page): anonymous, as they hold no data; the calls the page makes need a key.</summary>
    private static bool IsPage(RouteEndpoint route) => route.Metadata.GetMetadata<PageSecurityPolicy>() is not null;

    private static string? Policy(RouteEndpoint route) => route.Metadata.GetOrderedMetadata<IAuthorizeData>().SingleOrDefault()?.Policy;

    [Fact]
    public async Task Every_route_names_who_may_call_it_and_refuses_a_caller_without_a_key_with_401()
    {
        using var anonymous = api.CheckedClient();
        foreach (var route in Routes)
        {
            var name = Name(route);
            if (Anonymous.Contains(name) || IsPage(route))
            {
                Assert.NotNull(route.Metadata.GetMetadata<IAllowAnonymous>());
                continue;
            }
            Assert.True(Policy(route) is not null, $"{name} names no policy: say which roles may call it.");
            var (method, path) = (name.Split(' ')[0], "/" + name.Split(' ')[1].Replace("{id:guid}", Guid.NewGuid().ToString(), StringComparison.Ordinal));
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = Json("{}") };
            var response = await anonymous.SendAsync(request);

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {response.StatusCode}");
            Assert.Equal("Bearer realm=\"jobs\"", response.Headers.WwwAuthenticate.ToString());
            Assert.Equal(("application/problem+json", "unauthenticated"), (response.Content.Headers.ContentType?.MediaType, (await response.Json()).Str("code")));
        }
    }

    /// <summary>
    /// Every route, found from the app's own endpoints (a new route cannot be left out), called by another tenant holding
    /// a key of every role: it sees, changes and learns nothing of acme's job, and answers exactly as for a job nobody has.
    /// </summary>
    [Fact]
    public async Task Another_tenants_key_of_every_role_reaches_nothing_of_a_job_on_any_route()
    {
        var acme = api.ClientFor("acme");
        const string idempotencyKey = "isolation-walk";
        var job = (await (await acme.PostJson("/jobs", """{"type":"scan","input":{"fileId":"secret"}}""", idempotencyKey)).Json()).GetProperty("jobId").GetGuid();
        var lease = Assert.Single(await api.Host.Services.GetRequiredService<JobQueue>().Claim(1, ["scan"], "acme", "acme-worker", "acme-worker", TimeSpan.FromMinutes(5), default)).Lease;
        var before = (await api.Events(job, "acme")).Count;
        var globex = api.ClientFor("globex");

        foreach (var route in Routes)
        {
            var name = Name(route);
            var template = "/" + name.Split(' ')[1];
            var policy = Policy(route);
            if (Anonymous.Contains(name) || IsPage(route))
                continue;
            if (template.Contains("{id:guid}", StringComparison.Ordinal))
            {
                // The same request about acme's job and about a job nobody has: the answers must not tell them apart.
                var body = policy != AccessPolicies.Work ? "{}" : template.Split('/')[^1] switch
                {
                    "progress" => $$"""{"leaseToken":"{{lease.Token}}","percent":50}""",
                    "complete" => $$$"""{"leaseToken":"{{{lease.Token}}}","result":{}}""",
                    "fail" => $$"""{"leaseToken":"{{lease.Token}}","errorCode":"x","errorMessage":"y"}""",
                    _ => $$"""{"leaseToken":"{{lease.Token}}"}""",
                };
                var (theirs, none) = (await Send(globex, route, template.Replace("{id:guid}", job.ToString(), StringComparison.Ordinal), body),
                    await Send(globex, route, template.Replace("{id:guid}", Guid.NewGuid().ToString(), StringComparison.Ordinal), body));
                Assert.True(theirs.Status == none.Status && theirs.Code == none.Code, $"{name}: {theirs} for acme's job, {none} for none");
                Assert.True(theirs.Status is HttpStatusCode.NotFound or HttpStatusCode.Conflict, $"{name}: {theirs}");
                Assert.DoesNotContain("secret", theirs.Body, StringComparison.Ordinal);
            }
            else if (policy == AccessPolicies.Submit)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, template)
                {
                    Content = Json(template == "/jobs" ? """{"type":"transcode","input":{"fileId":"mine"}}""" : """{"fileId":"mine","reportType":"annual","year":2025,"amount":1,"currency":"EUR"}"""),
                };
                request.Headers.Add("Idempotency-Key", idempotencyKey);
                var response = await globex.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                // Each type's own route takes that type's input; POST /jobs must make globex a job of its own.
                Assert.True(response.StatusCode == HttpStatusCode.Accepted || (template != "/jobs" && response.StatusCode == HttpStatusCode.BadRequest),
                    $"{name}: {response.StatusCode} {body}");
                Assert.DoesNotContain(job.ToString(), body, StringComparison.Ordinal);
            }
            else if (policy == AccessPolicies.Work)
            {
                var claim = await Send(globex, route, template, """{"types":["scan"]}""");
                Assert.Equal(HttpStatusCode.NoContent, claim.Status);
            }
            else if (name.StartsWith("GET ", StringComparison.Ordinal))
            {
                var (status, _, body) = await Send(globex, route, template, null);
                Assert.True(status == HttpStatusCode.OK, $"{name}: {status} {body}");
                Assert.DoesNotContain(job.ToString(), body, StringComparison.Ordinal);
            }
            else
            {
                Assert.Fail($"{name}: no case in this walk. Add one that shows another tenant cannot reach acme's data through it.");
            }
        }

        Assert.Equal(before, (await api.Events(job, "acme")).Count);
        Assert.Equal("processing", (await (await acme.GetAsync($"/jobs/{job}")).Json()).Str("status"));
    }

    /// <summary>One request; an event stream is read for a moment (it would not end by itself), then let go.</summary>
    private static async Task<(HttpStatusCode Status, string? Code, string Body)> Send(HttpClient client, RouteEndpoint route, string path, string? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(route.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Single()), path);
        if (body is not null)
            request.Content = Json(body);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var text = new StringBuilder();
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            using var enough = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            try
            {
                while (await reader.ReadLineAsync(enough.Token) is { } line)
                    text.AppendLine(line);
            }
            catch (OperationCanceledException)
            {
            }
        }
        else
        {
            text.Append(await response.Content.ReadAsStringAsync());
        }
        var code = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
            ? System.Text.Json.JsonDocument.Parse(text.ToString()).RootElement.GetProperty("code").GetString()
            : null;
        return (response.StatusCode, code, text.ToString());
    }

    [Theory]
    [InlineData("auditor", "POST", "/jobs")]
    [InlineData("worker", "GET", "/jobs")]
    [InlineData("client", "GET", "/events")]
    [InlineData("client", "GET", "/dead-letters")]
    [InlineData("auditor", "POST", "/workers/claims")]
    [InlineData("client", "POST", "/jobs/{id}/retry")]
    public async Task A_key_without_the_role_gets_403_and_changes_nothing(string role, string method, string path)
    {
        var id = await api.CreateClient().SubmitTranscode();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{id}", id.ToString(), StringComparison.Ordinal))
        {
            Content = Json("""{"type":"transcode","input":{"fileId":"x"},"types":["transcode"]}"""),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());

        var response = await api.ClientFor("default", role).SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("forbidden", (await response.Json()).Str("code"));
        Assert.Single(await api.Events(id));
    }

    [Fact]
    public async Task A_worker_key_claims_only_the_job_types_it_names()
    {
        var worker = new HttpClient(api.Host.Server.CreateHandler()) { BaseAddress = api.Host.Server.BaseAddress };
        worker.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", api.Key("default", [Roles.Worker], "scan"));

        var response = await worker.PostJson("/workers/claims", """{"types":["scan","print"]}""", null);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var problem = await response.Json();
        Assert.Equal("job_type_not_allowed", problem.Str("code"));
        Assert.Contains("print", problem.Str("detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_or_revoked_key_gets_401_and_the_key_is_stored_only_as_a_hash()
    {
        var keys = api.Host.Services.GetRequiredService<ApiKeys>();
        var created = await keys.Create("revoked", [Roles.Client], [], "to revoke", default);
        var client = new HttpClient(api.Host.Server.CreateHandler()) { BaseAddress = api.Host.Server.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.Key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/jobs")).StatusCode);
        var stored = await api.Database.Scalar<string>("SELECT data::text FROM jobs.mt_doc_api_keys WHERE id = $1", created.Stored.Id);
        Assert.DoesNotContain(created.Key[17..], stored, StringComparison.Ordinal);

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.Key[..^1] + (created.Key[^1] == 'A' ? 'B' : 'A'));
        var mistyped = await client.GetAsync("/jobs");
        Assert.True(await keys.Revoke(created.Stored.Id, default));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.Key);
        var revoked = await client.GetAsync("/jobs");

        foreach (var response in new[] { mistyped, revoked })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer realm=\"jobs\", error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
            Assert.Equal("invalid_credentials", (await response.Json()).Str("code"));
        }
    }

    [Fact]
    public async Task Without_the_gateway_setting_a_tenant_header_authenticates_nobody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/jobs");
        request.Headers.Add("X-Tenant-Id", "default");
        request.Headers.Add("X-Roles", "admin");

        var response = await api.Host.Server.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_stream_token_opens_its_own_jobs_events_and_nothing_else()
    {
        var client = api.CreateClient();
        var accepted = await (await client.PostJson("/jobs", """{"type":"transcode","input":{"fileId":"browser"}}""", Guid.NewGuid().ToString())).Json();
        var eventsUrl = accepted.Str("eventsUrl");
        var token = eventsUrl[(eventsUrl.IndexOf("access_token=", StringComparison.Ordinal) + 13)..];
        var other = await client.SubmitTranscode();
        using var browser = api.CheckedClient();

        await using var stream = await SseStream.Open(browser, eventsUrl);
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);
        Assert.Equal("queued", (await stream.Next())!.Event);

        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync($"/jobs/{accepted.Str("jobId")}?access_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync($"/jobs/{other}/events?access_token={token}")).StatusCode);
        var forged = Uri.UnescapeDataString(token).Replace(".default.", ".acme.", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync($"/jobs/{accepted.Str("jobId")}/events?access_token={Uri.EscapeDataString(forged)}")).StatusCode);

        // A token made an hour and a minute ago has run out.
        var past = new StreamTokens(api.Host.Services.GetRequiredService<IDocumentStore>(), Options.Create(new AccessOptions()), new PastClock(TimeSpan.FromMinutes(61)));
        var expired = await browser.GetAsync(await past.EventsUrl(new Jobs.JobLinks(""), accepted.GetProperty("jobId").GetGuid(), "default", default));
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("expired", (await expired.Json()).Str("detail"), StringComparison.Ordinal);

        var status = await (await client.GetAsync($"/jobs/{other}")).Json();
        Assert.Equal(HttpStatusCode.OK, (await SseStream.Open(browser, status.Str("eventsUrl"))).Response.StatusCode);
    }

    [Fact]
    public async Task Answers_carry_the_security_headers_also_when_a_rule_or_a_header_is_refused()
    {
        var client = api.CreateClient();
        var id = await client.SubmitTranscode();
        using var banana = new HttpRequestMessage(HttpMethod.Post, $"/jobs/{id}/cancel");
        banana.Headers.TryAddWithoutValidation("If-Match", "banana");

        // A success; a broken rule (a queued job cannot be redriven), answered by the exception handler; a bad header.
        HttpResponseMessage[] answers = [await client.GetAsync("/jobs"), await client.PostAsync($"/jobs/{id}/retry", null), await client.SendAsync(banana)];

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict, HttpStatusCode.BadRequest], answers.Select(r => r.StatusCode));
        foreach (var response in answers)
        {
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Server"));
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private sealed class PastClock(TimeSpan ago) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UtcNow - ago;
    }
}

/// <summary>The API with no runner, and two types only external workers run.</summary>
public sealed class ApiForAccess : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Jobs:Types:scan:External"] = "true",
        ["Jobs:Types:print:External"] = "true",
        // A revoked key is refused at the next request, not 10 s later.
        ["Access:KeyCacheSeconds"] = "0",
    };
}

/// <summary>The API with small limits and a browser origin allowed, to see each limit answer.</summary>
public sealed class ApiWithTightLimits : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Access:RequestsPerSecond"] = "1",
        ["Access:Burst"] = "3",
        ["Access:MaxStreamsPerTenant"] = "2",
        ["Access:CorsOrigins:0"] = "https://app.example.com",
    };
}

public sealed class AccessLimitTests(ApiWithTightLimits api) : IClassFixture<ApiWithTightLimits>
{
    [Fact]
    public async Task A_key_past_its_rate_gets_429_with_retry_after_and_another_key_is_not_slowed()
    {
        var client = api.ClientFor("hasty", Roles.Client);
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
            answers.Add(await client.GetAsync("/jobs"));

        var refused = answers.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(answers.Take(3).All(r => r.StatusCode == HttpStatusCode.OK));
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal("rate_limited", (await refused.Json()).Str("code"));
        Assert.Equal(HttpStatusCode.OK, (await api.ClientFor("patient", Roles.Client).GetAsync("/jobs")).StatusCode);
    }

    [Fact]
    public async Task A_tenant_holding_its_open_streams_gets_429_for_the_next_and_other_tenants_do_not()
    {
        var client = api.ClientFor("streams", Roles.Auditor);
        await using var first = await SseStream.Open(client, "/events/stream");
        await using var second = await SseStream.Open(api.ClientFor("streams", Roles.Admin), "/events/stream");
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.Response.StatusCode, second.Response.StatusCode));

        var third = await api.ClientFor("streams", Roles.Client, Roles.Auditor).GetAsync("/events/stream", HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("too_many_streams", (await third.Json()).Str("code"));
        Assert.NotNull(third.Headers.RetryAfter);
        await using var elsewhere = await SseStream.Open(api.ClientFor("other-streams", Roles.Auditor), "/events/stream");
        Assert.Equal(HttpStatusCode.OK, elsewhere.Response.StatusCode);
    }

    [Fact]
    public async Task Long_polls_count_as_open_streams_and_plain_reads_do_not()
    {
        var id = await api.ClientFor("polls", Roles.Client).SubmitTranscode();
        Task<HttpResponseMessage> Poll(HttpClient client, int wait)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/jobs/{id}");
            request.Headers.Add("If-None-Match", "\"1\"");
            request.Headers.Add("Prefer", $"wait={wait}");
            return client.SendAsync(request);
        }
        HttpClient[] holders = [api.ClientFor("polls", Roles.Client), api.ClientFor("polls", Roles.Auditor)];
        var held = holders.Select(holder => Poll(holder, 60)).ToArray();

        // A poll that waits for nothing (answered at once while the two are not both held yet), until both are. On a slow
        // machine the key's own rate (1/s, a burst of 3) may answer first: that is a "not yet" too. A probe holds a
        // stream's place while it is answered, so a poll that arrives then is refused: it is sent again, and a poll
        // answered in any other way (a 304 before its minute) fails the test.
        var admin = api.ClientFor("polls", Roles.Admin);
        var (third, code) = await Eventually.Get(async () =>
            {
                for (var i = 0; i < held.Length; i++)
                {
                    if (!held[i].IsCompleted)
                        continue;
                    Assert.Equal(HttpStatusCode.TooManyRequests, (await held[i]).StatusCode);
                    held[i] = Poll(holders[i], 60);
                }
                var answer = await Poll(admin, 0);
                return (answer, code: answer.StatusCode == HttpStatusCode.TooManyRequests ? (await answer.Json()).Str("code") : null);
            },
            r => r.answer.StatusCode != HttpStatusCode.NotModified && r.code != "rate_limited", "the two polls to be held");
        var plain = await api.ClientFor("polls", Roles.Client, Roles.Auditor).GetAsync($"/jobs/{id}");

        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("too_many_streams", code);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.All(held, poll => Assert.False(poll.IsCompleted));
    }

    [Theory]
    [InlineData("https://app.example.com", true)]
    [InlineData("https://evil.example.com", false)]
    public async Task A_browser_preflight_is_answered_for_configured_origins_only(string origin, bool allowed)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/jobs/00000000-0000-0000-0000-000000000001/events");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,last-event-id");

        var response = await api.Host.Server.CreateClient().SendAsync(request);

        Assert.Equal(allowed, response.Headers.TryGetValues("Access-Control-Allow-Origin", out var origins) && origins.Single() == origin);
        if (allowed)
            Assert.Contains("Last-Event-ID", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>The API behind a gateway that authenticates callers and names their tenant and roles.</summary>
public sealed class ApiBehindGateway : ApiFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:Enabled"] = "false",
        ["Runner:LeaseDuration"] = Fixtures.NoLeaseSweep,
        ["Access:TrustGatewayHeaders"] = "true",
    };
}

public sealed class GatewayTests(ApiBehindGateway api) : IClassFixture<ApiBehindGateway>
{
    [Fact]
    public async Task The_gateways_tenant_and_roles_are_taken_ahead_of_a_credential_it_passes_on()
    {
        var gateway = api.CheckedClient();
        gateway.DefaultRequestHeaders.Add("X-Tenant-Id", "acme");
        gateway.DefaultRequestHeaders.Add("X-Roles", "client");
        gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "the-callers-own-jwt");

        var id = await gateway.SubmitTranscode();

        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync($"/jobs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("/events")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.ClientFor("globex").GetAsync($"/jobs/{id}")).StatusCode);
        Assert.Single(await api.Events(id, "acme"));
    }
}
