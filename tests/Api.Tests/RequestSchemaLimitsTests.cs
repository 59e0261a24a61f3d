using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace EventSourced.Api.Tests;

/// <summary>
/// The limits the request schemas state (maxLength, minimum, maximum, pattern, required, ...) are the ones the service enforces:
/// for every limit in the served document, a value just past it is refused with 400 validation_failed naming the field, and
/// a value at it is accepted (unless another rule of the field's refuses the probe's filler). A limit added, changed or
/// dropped on either side fails here.
/// </summary>
public sealed class RequestSchemaLimitsTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    /// <summary>Routes whose bodies are probed, each with a body the service accepts.</summary>
    public static TheoryData<string, string> Bodies => new()
    {
        { "/jobs", """{"type":"transcode","input":{"fileId":"limits"}}""" },
        { "/transcodes", """{"fileId":"limits","steps":1,"stepMs":0}""" },
        { "/reports", """{"reportType":"annual","year":2024}""" },
        { "/payments", """{"amount":10,"currency":"EUR"}""" },
    };

    /// <summary>Fields whose other rules (a known job type, an https URL and a signing secret) refuse a value made of filler.</summary>
    private static readonly string[] FillerRefused = ["type", "callbackUrl"];

    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task Every_limit_in_a_request_schema_is_the_one_the_service_enforces(string route, string valid)
    {
        var schema = await RequestSchema(route);
        var probes = Probes(schema, JsonNode.Parse(valid)!.AsObject()).ToList();
        Assert.NotEmpty(probes);

        var wrong = new List<string>();
        foreach (var (field, limit, body, refused) in probes)
        {
            using var response = await _client.PostJson(route, body.ToJsonString(), Guid.NewGuid().ToString());
            var json = response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? await response.Json() : default;
            var named = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _);
            var code = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("code", out var c) ? c.GetString() : null;
            if (refused && !(response.StatusCode == HttpStatusCode.BadRequest && code == "validation_failed" && named))
                wrong.Add($"{route} {field}: past {limit}, answered {(int)response.StatusCode} {json}, not 400 validation_failed naming '{field}'");
            if (!refused && named)
                wrong.Add($"{route} {field}: at {limit}, refused: {json}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task The_documented_limits_are_those_of_the_validators_and_the_limits_page()
    {
        // A few by name, so that a probe that found nothing to probe cannot pass unnoticed.
        var submit = await RequestSchema("/jobs");
        Assert.Equal(100, submit.GetProperty("properties").GetProperty("maxAttempts").GetProperty("maximum").GetInt32());
        Assert.Equal(7 * 24 * 3600, submit.GetProperty("properties").GetProperty("timeoutSeconds").GetProperty("maximum").GetInt32());
        Assert.Equal(200, submit.GetProperty("properties").GetProperty("correlationId").GetProperty("maxLength").GetInt32());
        Assert.Contains("input", submit.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.False(submit.GetProperty("additionalProperties").GetBoolean());
        var progress = await Component("ProgressRequest");
        Assert.Equal((0, 100), (progress.GetProperty("properties").GetProperty("percent").GetProperty("minimum").GetInt32(),
            progress.GetProperty("properties").GetProperty("percent").GetProperty("maximum").GetInt32()));
        Assert.Equal(new[] { "leaseToken", "percent" }, progress.GetProperty("required").EnumerateArray().Select(r => r.GetString()!).Order().ToArray());
        var claim = await Component("ClaimRequest");
        Assert.Equal(200, claim.GetProperty("properties").GetProperty("types").GetProperty("items").GetProperty("maxLength").GetInt32());
    }

    /// <summary>For each limit of each field: the valid body with the field just past it (refused), and at it (accepted).</summary>
    private static IEnumerable<(string Field, string Limit, JsonObject Body, bool Refused)> Probes(JsonElement schema, JsonObject valid)
    {
        foreach (var required in schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(e => e.GetString()!) : [])
        {
            var body = valid.DeepClone().AsObject();
            body.Remove(required);
            yield return (required, "required", body, true);
        }
        foreach (var property in schema.GetProperty("properties").EnumerateObject())
        {
            var field = property.Name;
            var p = property.Value;
            var filler = !FillerRefused.Contains(field);
            if (p.TryGetProperty("maxLength", out var maxLength))
            {
                yield return (field, $"maxLength {maxLength}", With(valid, field, new string('a', maxLength.GetInt32() + 1)), true);
                if (filler)
                    yield return (field, $"maxLength {maxLength}", With(valid, field, new string('a', maxLength.GetInt32())), false);
            }
            if (p.TryGetProperty("minLength", out var minLength))
                yield return (field, $"minLength {minLength}", With(valid, field, new string('a', minLength.GetInt32() - 1)), true);
            foreach (var (keyword, past, at) in new (string, decimal, decimal)[] { ("maximum", 1, 0), ("minimum", -1, 0), ("exclusiveMaximum", 0, -1), ("exclusiveMinimum", 0, 1) })
            {
                if (!p.TryGetProperty(keyword, out var bound))
                    continue;
                yield return (field, $"{keyword} {bound}", With(valid, field, bound.GetDecimal() + past), true);
                yield return (field, $"{keyword} {bound}", With(valid, field, bound.GetDecimal() + at), false);
            }
            if (p.TryGetProperty("pattern", out var pattern) && !Regex.IsMatch("!", pattern.GetString()!))
                yield return (field, $"pattern {pattern}", With(valid, field, "!"), true);
        }
    }

    private static JsonObject With(JsonObject valid, string field, string value)
    {
        var body = valid.DeepClone().AsObject();
        body[field] = value;
        return body;
    }

    private static JsonObject With(JsonObject valid, string field, decimal value)
    {
        var body = valid.DeepClone().AsObject();
        body[field] = JsonNode.Parse(value.ToString(CultureInfo.InvariantCulture));
        return body;
    }

    /// <summary>The schema of the JSON body of POST <paramref name="route"/>, as the served document gives it.</summary>
    private async Task<JsonElement> RequestSchema(string route)
    {
        var document = await Document();
        var schema = document.GetProperty("paths").GetProperty(route).GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("application/json").GetProperty("schema");
        return schema.TryGetProperty("$ref", out var reference) ? await Component(reference.GetString()!.Split('/')[^1]) : schema;
    }

    private async Task<JsonElement> Component(string name) => (await Document()).GetProperty("components").GetProperty("schemas").GetProperty(name);

    private async Task<JsonElement> Document()
    {
        using var anonymous = api.Host.Server.CreateClient();
        return JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json")).RootElement;
    }
}
