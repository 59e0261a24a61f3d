using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EventSourced.Api.Access;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Webhooks;
using EventSourced.EventStore;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EventSourced.Api.Tests;

/// <summary>
/// The API as it runs (its runner on), with a type external workers run and a payment provider whose secret the fuzzer knows,
/// so that signed webhooks and workers' reports get past their checks to the code behind them.
/// </summary>
public sealed class ApiUnderFuzz : ApiFixture
{
    public const string Provider = "fuzzpay";
    public const string ProviderSecret = "whsec_ZnV6ei1wcm92aWRlci1zZWNyZXQtMjAyNg==";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        ["Runner:DrainTimeout"] = "00:00:01",
        ["Jobs:Types:thumbnail:External"] = "true",
        [$"Webhooks:Providers:{Provider}:Secrets"] = ProviderSecret,
    };
}

/// <summary>
/// Random and mutated requests against every route the service maps (read from its endpoint data source, so a new route is
/// fuzzed without a change here), with keys of each role and tenant, a wrong key and none. Seeded: FUZZ_SEED=n reruns a
/// sequence (FUZZ_COUNT=n changes its length). Afterwards the service must still be healthy, and every job whole.
/// </summary>
public sealed class FuzzTests(ApiUnderFuzz api, ITestOutputHelper output) : IClassFixture<ApiUnderFuzz>
{
    private const int DefaultSeed = 20261124, DefaultCount = 1500, Parallelism = 8;
    // A request that may hold its connection open (an event stream, a long poll) is let go after HeldFor. Any other must answer
    // within HangAfter: a bound on a hang, not a benchmark, so it is that of every wait in the tests, generous on a busy machine.
    private static readonly TimeSpan HeldFor = TimeSpan.FromMilliseconds(300), HangAfter = TestSupport.Patience.Bound;

    [Fact]
    public async Task Random_and_mutated_requests_to_every_route_get_no_5xx_and_no_hang_and_leave_every_job_whole()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : DefaultSeed;
        var count = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_COUNT"), CultureInfo.InvariantCulture, out var c) ? c : DefaultCount;
        output.WriteLine($"Fuzzing with seed {seed} (FUZZ_SEED={seed} reruns it), {count} requests.");
        var routes = Routes();
        output.WriteLine($"{routes.Count} routes: {string.Join(", ", routes.Select(r => $"{r.Method} {r.Pattern.RawText}"))}");
        var fuzzer = new Fuzzer(seed, routes, await World.Make(api, seed), api.Host.Services.GetRequiredService<JobTypeRegistry>());
        var client = api.Host.Server.CreateClient();

        var failures = new ConcurrentQueue<(FuzzRequest Request, string Outcome)>();
        var (sent, held, statuses) = (0, 0, new ConcurrentDictionary<int, int>());
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (index, _) =>
        {
            var request = fuzzer.Make(index);
            var (status, outcome, open) = await Send(client, request);
            Interlocked.Increment(ref sent);
            if (open)
                Interlocked.Increment(ref held);
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (outcome is not null)
                failures.Enqueue((request, outcome));
        });
        output.WriteLine($"Sent {sent} requests in {clock.Elapsed.TotalSeconds:F1} s ({held} held open and let go); statuses: "
            + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}")));

        if (!failures.IsEmpty)
        {
            // Each kind of failure once, by its first request: enough to send it again by hand.
            var kinds = failures.OrderBy(f => f.Request.Index).GroupBy(f => $"{f.Request.Method} {f.Request.Route}: {f.Outcome.Split('\n')[0]}")
                .Select(g => $"{g.Count()}× {g.Key}\n{g.First().Request.Describe()}→ {g.First().Outcome}\n");
            Assert.Fail($"Seed {seed}: {failures.Count} requests failed.\n\n{string.Join("\n", kinds.Take(10))}");
        }

        var health = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await api.CreateClient().PostJson("/jobs", """{"type":"thumbnail","input":{}}""", $"after-fuzz-{seed}")).StatusCode);
        await AssertEveryJobWhole();
    }

    /// <summary>
    /// Every job's stream has its status row and every status row its stream, at the same version: no job was half written.
    /// (Marten keeps a stream of its own, of tombstones for the sequence numbers of failed appends: it is no job's.)
    /// </summary>
    private async Task AssertEveryJobWhole()
    {
        var jobs = await api.Database.Scalar<long>("SELECT count(*) FROM jobs.mt_streams WHERE type = 'job'");
        var broken = await Rows("""
            SELECT coalesce(s.tenant_id, d.tenant_id) || '/' || coalesce(s.id, d.id) || ': stream at ' || coalesce(s.version::text, 'none')
                || ', status at ' || coalesce(d.mt_version::text, 'none')
            FROM (SELECT * FROM jobs.mt_streams WHERE type = 'job') AS s
            FULL JOIN jobs.mt_doc_job_status AS d ON d.tenant_id = s.tenant_id AND d.id = s.id
            WHERE s.id IS NULL OR d.id IS NULL OR s.version <> d.mt_version
            LIMIT 20
            """);
        output.WriteLine($"{jobs} jobs checked: each stream against its status row.");
        Assert.True(broken.Count == 0, $"Jobs not whole:\n{string.Join("\n", broken)}");
    }

    private async Task<List<string>> Rows(string sql)
    {
        await using var command = api.Database.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
            rows.Add(reader.GetString(0));
        return rows;
    }

    /// <summary>Every route and method the service maps, as ASP.NET Core's routing sees them.</summary>
    private List<FuzzRoute> Routes() =>
    [
        .. api.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => new FuzzRoute(m, e.RoutePattern,
                e.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == AccessModule.OpenStreams)))
            .OrderBy(r => r.Pattern.RawText, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal),
    ];

    /// <summary>The status, what went wrong (null when nothing did), and whether the request was let go while held open.</summary>
    private static async Task<(int Status, string? Failure, bool Open)> Send(HttpClient client, FuzzRequest request)
    {
        using var message = request.ToMessage();
        using var timeout = new CancellationTokenSource(request.MayHold ? HeldFor : HangAfter);
        HttpResponseMessage? response = null;
        try
        {
            response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            var streaming = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
            if (!streaming)
                timeout.CancelAfter(HangAfter);
            var body = await ReadSome(response, timeout.Token);
            return status >= 500 ? (status, $"{status} {response.Content.Headers.ContentType}\n{body}", false) : (status, null, false);
        }
        // Let go by us: the test server ends the response, and a read under way throws as it finds it ended, or as it is cancelled.
        // A server that could not answer a client that went away (a hang, let go) may throw the request's own exception here.
        catch (Exception) when (timeout.IsCancellationRequested)
        {
            var status = response is null ? 0 : (int)response.StatusCode;
            var streaming = response?.Content.Headers.ContentType?.MediaType == "text/event-stream";
            return request.MayHold || streaming
                ? (status, status >= 500 ? $"{status} on a stream" : null, true)
                : (status, $"no answer within {HangAfter.TotalSeconds} s (a hang)", false);
        }
        catch (Exception e)
        {
            return (0, $"{e.GetType().Name}: {e.Message}\n{e.StackTrace?.Split('\n').Take(8).Aggregate((a, b) => a + "\n" + b)}", false);
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>The body, cut to 2,000 characters (a stream's first events; cancelled by <paramref name="ct"/>).</summary>
    private static async Task<string> ReadSome(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[16 * 1024];
        using var all = new MemoryStream();
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            if (all.Length < 2000)
                all.Write(buffer, 0, read);
        }
        var text = Encoding.UTF8.GetString(all.ToArray());
        return text.Length > 2000 ? text[..2000] + "…" : text;
    }
}

public sealed record FuzzRoute(string Method, RoutePattern Pattern, bool OpensStreams);

/// <summary>One request as the fuzzer made it, to send and to describe (so that it can be sent again by hand).</summary>
public sealed record FuzzRequest(int Index, string Method, string Route, string Url, IReadOnlyList<(string Name, string Value)> Headers, byte[]? Body, string? ContentType, bool MayHold)
{
    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(new HttpMethod(Method), Url);
        if (Body is not null)
        {
            message.Content = new ByteArrayContent(Body);
            if (ContentType is not null)
                message.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
        }
        foreach (var (name, value) in Headers)
        {
            if (!message.Headers.TryAddWithoutValidation(name, value))
                message.Content?.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    public string Describe()
    {
        var text = new StringBuilder($"#{Index}: {Method} {Url}\n");
        foreach (var (name, value) in Headers)
            text.Append(CultureInfo.InvariantCulture, $"{name}: {Cut(value, 300)}\n");
        if (ContentType is not null)
            text.Append(CultureInfo.InvariantCulture, $"Content-Type: {ContentType}\n");
        if (Body is not null)
            text.Append(CultureInfo.InvariantCulture, $"\n{Cut(Encoding.UTF8.GetString(Body), 2000)} ({Body.Length} bytes)\n");
        return text.ToString();
    }

    private static string Cut(string text, int length) => text.Length > length ? text[..length] + "…" : text;
}

/// <summary>What requests can name: jobs of two tenants, leases on claimed jobs, a stream token, and keys of every kind.</summary>
public sealed record World(
    IReadOnlyList<Guid> Jobs, IReadOnlyList<Guid> OtherTenantsJobs, IReadOnlyList<(Guid Job, string Token)> Leases, string StreamToken,
    IReadOnlyList<(string Name, string? Authorization)> Credentials)
{
    public static async Task<World> Make(ApiFixture api, int seed)
    {
        var client = api.CreateClient();
        var acme = api.ClientFor("acme");
        var key = 0;
        async Task<Guid> Submit(HttpClient c, string body)
        {
            var response = await c.PostJson("/jobs", body, $"fuzz-{seed}-world-{key++}");
            return (await response.Json()).GetProperty("jobId").GetGuid();
        }
        List<Guid> jobs =
        [
            await Submit(client, """{"type":"transcode","input":{"fileId":"f","steps":2,"stepMs":10}}"""),
            await Submit(client, """{"type":"report","input":{"reportType":"quarterly","year":2025}}"""),
            await Submit(client, """{"type":"payment","input":{"amount":12.5,"currency":"EUR","waitSeconds":600},"correlationId":"order-1"}"""),
        ];
        for (var i = 0; i < 6; i++)
            jobs.Add(await Submit(client, $$$"""{"type":"thumbnail","input":{"fileId":"img-{{{i}}}"}}"""));
        List<Guid> others = [await Submit(acme, """{"type":"thumbnail","input":{}}"""), await Submit(acme, """{"type":"transcode","input":{"fileId":"a","steps":1,"stepMs":1}}""")];

        var leases = new List<(Guid, string)>();
        for (var i = 0; i < 3; i++)
        {
            var work = await (await client.PostAsync("/workers/claims", new StringContent("""{"types":["thumbnail"],"leaseSeconds":3600}""", Encoding.UTF8, "application/json"))).Json();
            leases.Add((work.GetProperty("jobId").GetGuid(), work.Str("leaseToken")));
        }
        var eventsUrl = (await (await client.GetAsync($"/jobs/{jobs[0]}")).Json()).Str("eventsUrl");
        var token = Uri.UnescapeDataString(eventsUrl[(eventsUrl.IndexOf("access_token=", StringComparison.Ordinal) + "access_token=".Length)..]);

        List<(string, string?)> credentials =
        [
            ("no credentials", null),
            ("default, every role", Bearer(api.Key(Tenants.Default, Roles.All))),
            ("acme, every role", Bearer(api.Key("acme", Roles.All))),
            .. Roles.All.Select(role => ($"default, {role}", (string?)Bearer(api.Key(Tenants.Default, [role])))),
            ("default, worker for thumbnail only", Bearer(api.Key(Tenants.Default, [Roles.Worker], "thumbnail"))),
            ("a key that does not exist", Bearer("esk_0123456789ab_" + new string('A', 43))),
            ("not a bearer token", "Basic Zm9vOmJhcg=="),
            ("an empty bearer token", "Bearer "),
            ("a bearer token over the limit", Bearer("esk_" + new string('k', 300))),
        ];
        return new World(jobs, others, leases, token, credentials);
    }

    private static string Bearer(string key) => $"Bearer {key}";
}

/// <summary>Makes request number n of a seeded sequence: the same seed and n make the same request.</summary>
public sealed class Fuzzer(int seed, IReadOnlyList<FuzzRoute> routes, World world, JobTypeRegistry types)
{
    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    private static readonly string[] QueryNames =
    [
        "limit", "after", "cursor", "type", "correlationId", "status", "createdFrom", "createdTo", "from", "to", "includeArchived", "version", "at",
        "atVersion", "asOf", "lastEventId", "access_token", "x",
    ];
    private static readonly string[] Numbers = ["0", "1", "-1", "2", "50", "100", "101", "200", "201", "1000", "1001", "2147483647", "2147483648", "-2147483649",
        "9223372036854775807", "99999999999999999999", "1.5", "1e3", "1e400", "0e-20000", "-0", "NaN", "0x10", " 1"];
    private static readonly string[] Moments = ["2026-01-01", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00-12:00",
        "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00", "2026-13-45", "yesterday", "1/2/2026"];
    private static readonly string[] Words = ["", " ", "transcode", "thumbnail", "queued", "processing", "failed", "completed", "true", "false", "null",
        "job.submitted", "order-1", "'; DROP TABLE jobs.mt_streams; --", "%", "%00", "\u0000", "😀", "\u202e", "../..", "LTE6MDA", "MzE1NTM3ODk3NjAwMDAwMDAwMDowMA"];
    // Header values cannot hold control characters: the client would refuse to send them.
    private static readonly string[] HeaderWords = [.. Words.Where(w => !w.Any(char.IsControl))];
    private static readonly string[] ContentTypes = ["text/plain", "application/json; charset=utf-8", "application/json; charset=utf-16", "application/problem+json",
        "application/merge-patch+json", "application/x-www-form-urlencoded", "", "garbage", "application/json;;", "multipart/form-data; boundary=x", "application/*"];

    public FuzzRequest Make(int index)
    {
        var random = new Random(unchecked(seed * 1_000_003 + index));
        var route = routes[random.Next(routes.Count)];
        var method = random.Next(100) < 4 ? Pick(random, Methods) : route.Method;
        var lease = world.Leases[random.Next(world.Leases.Count)];
        var path = random.Next(100) < 2 ? Pick(random, ["/", "//jobs", "/jobs/x/y/z", "/%ZZ", "/jobs/%2e%2e/health", "/" + new string('a', 3000)]) : Path(random, route.Pattern, lease.Job);
        var query = random.Next(100) < 40 ? Query(random) : "";
        var headers = Headers(random, route);

        var (body, contentType) = (method is "POST" or "PUT" or "PATCH" ? random.Next(100) < 92 : random.Next(100) < 5) ? Body(random, route, lease) : (null, null);
        if (route.Pattern.RawText!.Contains("{provider}", StringComparison.Ordinal) && random.Next(100) < 60)
            headers.AddRange(Signature(random, body ?? []));
        var mayHold = route.OpensStreams || headers.Any(h => h.Name == "Prefer" && h.Value.Contains("wait", StringComparison.OrdinalIgnoreCase));
        return new FuzzRequest(index, method, route.Pattern.RawText!, path + query, headers, body, contentType, mayHold);
    }

    private string Path(Random random, RoutePattern pattern, Guid leasedJob)
    {
        var path = new StringBuilder();
        foreach (var segment in pattern.PathSegments)
        {
            path.Append('/');
            foreach (var part in segment.Parts)
            {
                path.Append(part switch
                {
                    RoutePatternLiteralPart literal => literal.Content,
                    RoutePatternSeparatorPart separator => separator.Content,
                    // Without control characters: the test server's client refuses a path holding %00 (as Kestrel does, with a 400).
                    RoutePatternParameterPart parameter => Uri.EscapeDataString(new string([.. Value(random, parameter.Name, leasedJob).Where(c => !char.IsControl(c))])),
                    _ => "",
                });
            }
        }
        return path.ToString();
    }

    private string Value(Random random, string parameter, Guid leasedJob) => (parameter, random.Next(100)) switch
    {
        ("id", < 30) => leasedJob.ToString(),
        ("id", < 65) => world.Jobs[random.Next(world.Jobs.Count)].ToString(),
        ("id", < 75) => world.OtherTenantsJobs[random.Next(world.OtherTenantsJobs.Count)].ToString(),
        ("id", < 85) => NewGuid(random).ToString(random.Next(2) == 0 ? "D" : "N"),
        ("provider", < 70) => ApiUnderFuzz.Provider,
        (_, var n) when n < 90 => Pick(random, Words) is { Length: > 0 } word ? word : "x",
        _ => Pick(random, ["00000000-0000-0000-0000-000000000000", new string('a', 300), "{id}", "0", "-1", "demo", "..", ApiUnderFuzz.Provider.ToUpperInvariant()]),
    };

    private string Query(Random random)
    {
        var parts = new List<string>();
        for (var i = random.Next(1, 5); i > 0; i--)
        {
            var name = Pick(random, QueryNames);
            var value = (name, random.Next(100)) switch
            {
                ("access_token", < 60) => world.StreamToken,
                ("createdFrom" or "createdTo" or "from" or "to" or "at" or "asOf", < 70) => Pick(random, Moments),
                (_, < 40) => Pick(random, Numbers),
                (_, < 55) => Pick(random, Moments),
                (_, < 90) => Pick(random, Words),
                _ => new string('q', Pick(random, [201, 201, 1000, 9000])),
            };
            parts.Add($"{name}={Uri.EscapeDataString(value)}");
        }
        return "?" + string.Join('&', parts);
    }

    private List<(string Name, string Value)> Headers(Random random, FuzzRoute route)
    {
        var headers = new List<(string, string)>();
        // Mostly a key that may do everything, so that most requests get past the door to the code behind it.
        var credential = random.Next(100) < 70 ? world.Credentials[1] : Pick(random, world.Credentials);
        if (credential.Authorization is { } authorization)
            headers.Add(("Authorization", authorization));
        if (route.Method == "POST" && random.Next(100) < 85)
        {
            headers.Add(("Idempotency-Key", random.Next(100) switch
            {
                < 55 => NewGuid(random).ToString(),
                // A few keys used again and again, with other bodies and by other tenants: replays and conflicts.
                < 85 => $"fuzz-key-{random.Next(5)}",
                _ => Pick(random, ["", " ", "ключ", "😀", new string('k', 255), new string('k', 256), new string('k', 5000), "a,b"]),
            }));
        }
        for (var i = random.Next(0, 4); i > 0; i--)
        {
            headers.Add(random.Next(12) switch
            {
                0 => ("If-Match", Pick(random, ["\"1\"", "\"2\"", "\"3\"", "*", "W/\"1\"", "banana", "\"99999999999999999999\"", "\"-1\"", "\"\"", "\"1\", \"2\"", "1"])),
                1 => ("If-None-Match", Pick(random, ["\"1\"", "\"2\"", "*", "garbage", "W/\"2\""])),
                2 => ("Last-Event-ID", Pick(random, Numbers)),
                3 => ("Prefer", Pick(random, ["wait=0", "wait=1", "wait=60", "wait=abc", "wait=-1", "wait=99999999999", "respond-async", "wait=\"1\"", "wait", "wait=1, wait=2"])),
                4 => ("Accept", Pick(random, ["text/event-stream", "application/x-ndjson", "*/*", "application/xml", "text/plain", "application/problem+json"])),
                5 => (Pick(random, [Tenancy.Tenant.Header, AccessAuthentication.RolesHeader, AccessAuthentication.JobTypesHeader]), Pick(random, ["acme", "admin", "*", "../x", new string('t', 100)])),
                6 => (Pick(random, [StandardWebhooks.IdHeader, StandardWebhooks.TimestampHeader, StandardWebhooks.SignatureHeader]), Pick(random, Numbers.Concat(HeaderWords).ToArray())),
                7 => ("Origin", Pick(random, ["https://app.example.com", "null", "http://evil.example"])),
                8 => ("Access-Control-Request-Method", Pick(random, ["POST", "DELETE", "GET"])),
                9 => ("X-Padding", new string('p', Pick(random, [100, 2000, 8000, 17 * 1024]))),
                10 => ("Cookie", "session=" + new string('c', random.Next(1, 4000))),
                _ => ("X-Correlation-Id", Pick(random, HeaderWords)),
            });
        }
        return headers;
    }

    private (byte[] Body, string? ContentType) Body(Random random, FuzzRoute route, (Guid Job, string Token) lease)
    {
        var contentType = random.Next(100) < 88 ? "application/json" : Pick(random, ContentTypes);
        var roll = random.Next(100);
        if (roll < 10)
            return (Garbage(random), contentType);
        var example = roll < 20 ? Example(random, routes[random.Next(routes.Count)].Pattern.RawText!, lease) : Example(random, route.Pattern.RawText!, lease);
        if (example is null)
            return (Garbage(random), contentType);
        if (roll < 45)
            return (Encoding.UTF8.GetBytes(example.ToJsonString()), contentType);
        var raw = new List<string>();
        for (var i = random.Next(1, 4); i > 0; i--)
            example = Mutate(random, example, raw);
        var text = example.ToJsonString();
        for (var i = 0; i < raw.Count; i++)
            text = text.Replace($"\"RAW{i}RAW\"", raw[i], StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text);
        return (random.Next(100) < 10 ? Corrupt(random, bytes) : bytes, contentType);
    }

    /// <summary>A valid body for the route, as far as the fuzzer knows one; null when it knows none.</summary>
    private JsonNode? Example(Random random, string route, (Guid Job, string Token) lease)
    {
        var type = types.All.FirstOrDefault(t => t.SubmitRoute == route);
        return route switch
        {
            "/jobs" => Submission(random),
            _ when type is not null => Input(random, type.Name),
            _ when route.EndsWith("/claims", StringComparison.Ordinal) => new JsonObject
            {
                ["types"] = new JsonArray(Pick(random, ["thumbnail", "transcode", "payment"])), ["leaseSeconds"] = random.Next(5, 60), ["worker"] = "fuzz-worker",
            },
            _ when route.EndsWith("/heartbeat", StringComparison.Ordinal) => new JsonObject { ["leaseToken"] = lease.Token, ["leaseSeconds"] = random.Next(5, 3600) },
            _ when route.EndsWith("/progress", StringComparison.Ordinal) => new JsonObject
            {
                ["leaseToken"] = lease.Token, ["percent"] = random.Next(0, 101), ["message"] = "working",
            },
            _ when route.EndsWith("/complete", StringComparison.Ordinal) => random.Next(2) == 0
                ? new JsonObject { ["leaseToken"] = lease.Token, ["result"] = new JsonObject { ["url"] = "https://cdn.example/x.png", ["n"] = new JsonArray(1, 2) } }
                : new JsonObject { ["leaseToken"] = lease.Token, ["result"] = "a,b\n1,2\n", ["contentType"] = "text/csv" },
            _ when route.EndsWith("/fail", StringComparison.Ordinal) => new JsonObject
            {
                ["leaseToken"] = lease.Token, ["errorCode"] = "cdn_down", ["errorMessage"] = "The CDN did not answer.", ["retryable"] = random.Next(2) == 0,
            },
            _ when route.EndsWith("/release", StringComparison.Ordinal) => new JsonObject { ["leaseToken"] = lease.Token, ["reason"] = "shutting down" },
            _ when route.EndsWith("/cancel", StringComparison.Ordinal) || route.EndsWith("/retry", StringComparison.Ordinal) => new JsonObject { ["reason"] = "fuzz" },
            _ when route.Contains("{provider}", StringComparison.Ordinal) => new JsonObject
            {
                ["type"] = Pick(random, ["payment.succeeded", "payment.failed", "payment.refunded"]),
                ["data"] = random.Next(2) == 0
                    ? new JsonObject { ["jobId"] = world.Jobs[random.Next(world.Jobs.Count)].ToString(), ["code"] = "card_declined", ["message"] = "Declined." }
                    : new JsonObject { ["correlationId"] = "order-1", ["chargeId"] = "ch_1" },
            },
            _ => null,
        };
    }

    private JsonObject Submission(Random random)
    {
        var type = Pick(random, ["transcode", "report", "payment", "thumbnail", "thumbnail", "mine-coins"]);
        var submission = new JsonObject { ["type"] = type, ["input"] = Input(random, type) };
        if (random.Next(4) == 0)
            submission["correlationId"] = Pick(random, ["order-1", "order-2", "c"]);
        if (random.Next(4) == 0)
            submission["maxAttempts"] = random.Next(1, 5);
        if (random.Next(4) == 0)
            submission["timeoutSeconds"] = random.Next(1, 600);
        if (random.Next(8) == 0)
        {
            submission["callbackUrl"] = "https://example.com/hook";
            submission["callbackEvents"] = new JsonArray("completed", "failed");
        }
        return submission;
    }

    private static JsonObject Input(Random random, string type) => type switch
    {
        "transcode" => new JsonObject { ["fileId"] = "movie", ["steps"] = random.Next(1, 4), ["stepMs"] = random.Next(0, 20) },
        "report" => new JsonObject { ["reportType"] = Pick(random, ["annual", "quarterly"]), ["year"] = random.Next(2000, 2101) },
        "payment" => new JsonObject { ["amount"] = 12.5m, ["currency"] = "EUR", ["description"] = "Order 1", ["waitSeconds"] = random.Next(1, 600) },
        _ => new JsonObject { ["fileId"] = "img", ["sizes"] = new JsonArray(64, 128), ["options"] = new JsonObject { ["crop"] = true } },
    };

    /// <summary>One change somewhere in the tree: a field dropped or added, a value of another type, out of range, huge, deep, null or not text.</summary>
    private static JsonNode Mutate(Random random, JsonNode root, List<string> raw)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[random.Next(nodes.Count)];
        var replacement = random.Next(10) switch
        {
            0 => null,
            1 => Pick(random, new Func<JsonNode?>[] { () => JsonValue.Create("text"), () => JsonValue.Create(7), () => JsonValue.Create(true), () => new JsonArray(), () => new JsonObject(), () => new JsonArray(1, "a", null) })(),
            2 => JsonValue.Create(string.Concat(Enumerable.Repeat(Pick(random, ["x", "é", "😀"]), Pick(random, [201, 256, 501, 1001, 2001, 4001, 70_000, 1_100_000])))),
            3 => JsonValue.Create(Pick(random, ["", " ", "\u0000", "a\u0000b", "😀", "\u202e", "\r\n", "${jndi:ldap://x}", "<script>", "transcode", "thumbnail", "completed"])),
            4 => Raw(raw, Pick(random, Numbers.Where(n => n != "NaN" && n != "0x10" && n != " 1").ToArray())),
            5 => Raw(raw, Pick(random, ["\"a\\ud800b\"", "\"\\udc00\"", "\"\\u0000\"", "\"\\ud83d\\ude00\""])),
            6 => Raw(raw, Nested(random, Pick(random, [30, 31, 33, 64, 1000, 100_000]))),
            7 => JsonValue.Create(NewGuid(random).ToString()),
            _ => null,
        };
        var drop = random.Next(10) < 2;
        if (target.Parent is JsonObject parent)
        {
            var name = parent.First(p => ReferenceEquals(p.Value, target)).Key;
            if (drop)
                parent.Remove(name);
            else
                parent[name] = replacement;
            if (random.Next(5) == 0)
                parent[Pick(random, ["extra", "Type", "input", "leaseToken", "", "\u0000", "RAW"])] = JsonValue.Create(1);
            return root;
        }
        if (target.Parent is JsonArray array)
        {
            var at = array.IndexOf(target);
            if (drop)
                array.RemoveAt(at);
            else
                array[at] = replacement;
            return root;
        }
        // The root itself: replaced, or wrapped.
        return random.Next(3) switch
        {
            0 => new JsonArray(root.DeepClone()),
            1 => replacement ?? JsonValue.Create(0)!,
            _ => root,
        };
    }

    private static void Collect(JsonNode? node, List<JsonNode> nodes)
    {
        if (node is null)
            return;
        nodes.Add(node);
        if (node is JsonObject obj)
        {
            foreach (var (_, value) in obj)
                Collect(value, nodes);
        }
        else if (node is JsonArray array)
        {
            foreach (var item in array)
                Collect(item, nodes);
        }
    }

    /// <summary>A fragment written as is (a number JSON cannot hold as a value here, an escape, deep nesting), through a placeholder.</summary>
    private static JsonNode Raw(List<string> raw, string fragment)
    {
        raw.Add(fragment);
        return JsonValue.Create($"RAW{raw.Count - 1}RAW");
    }

    private static string Nested(Random random, int depth) => random.Next(2) == 0
        ? new string('[', depth) + "1" + new string(']', depth)
        : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    private static byte[] Garbage(Random random) => random.Next(10) switch
    {
        0 => [],
        1 => "null"u8.ToArray(),
        2 => "[]"u8.ToArray(),
        3 => "\"text\""u8.ToArray(),
        4 => "{"u8.ToArray(),
        5 => Encoding.UTF8.GetBytes(Nested(random, 100_000)),
        6 => Encoding.UTF8.GetBytes("{\"a\":\"" + new string('x', 1_100_000) + "\"}"),
        7 => "{\"a\":1,\"a\":2}"u8.ToArray(),
        _ => RandomBytes(random, random.Next(1, 200)),
    };

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Cut short, or a byte replaced by one that is never UTF-8, or by noise.</summary>
    private static byte[] Corrupt(Random random, byte[] bytes)
    {
        if (bytes.Length == 0)
            return bytes;
        var at = random.Next(bytes.Length);
        return random.Next(3) switch
        {
            0 => bytes[..at],
            1 => [.. bytes[..at], 0xff, .. bytes[at..]],
            _ => [.. bytes[..at], .. RandomBytes(random, 3), .. bytes[at..]],
        };
    }

    private static IEnumerable<(string, string)> Signature(Random random, byte[] body)
    {
        var id = random.Next(100) < 70 ? NewGuid(random).ToString() : $"msg-{random.Next(3)}";
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + (random.Next(100) < 90 ? 0 : Pick(random, [-3600L, 3600L]));
        return
        [
            (StandardWebhooks.IdHeader, id),
            (StandardWebhooks.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture)),
            (StandardWebhooks.SignatureHeader, StandardWebhooks.Sign([ApiUnderFuzz.ProviderSecret], id, timestamp, body)),
        ];
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>A GUID drawn from the seeded sequence, so that a rerun sends the same one.</summary>
    private static Guid NewGuid(Random random) => new(RandomBytes(random, 16));
}
