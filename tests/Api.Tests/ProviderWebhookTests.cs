using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventSourced.Api.ProviderWebhooks;
using EventSourced.EventStore;
using EventSourced.TestSupport;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventSourced.Api.Tests;

/// <summary>The API with a payment provider configured, and leases short enough that a payment's wait runs out within a test.</summary>
public sealed class ApiWithProvider : ApiFixture
{
    public const string Provider = "acmepay";
    public const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Runner:PollInterval"] = "00:00:00.200",
        ["Runner:LeaseDuration"] = "00:00:02",
        [$"Webhooks:Providers:{Provider}:Secrets"] = "whsec_b2xkLXNlY3JldC1zdGlsbC1pbi11c2U= " + Secret,
    };
}

public sealed class ProviderWebhookTests(ApiWithProvider api) : IClassFixture<ApiWithProvider>
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_payment_waits_for_the_provider_and_its_webhook_completes_it_as_the_event_stream_shows()
    {
        var id = await SubmitPayment();
        await using var sse = await SseStream.Open(_client, $"/jobs/{id}/events");
        var waiting = await NextNamed(sse, "waiting");
        Assert.Equal("payment provider", waiting.Json.Str("waitingFor"));
        var status = await (await _client.GetAsync($"/jobs/{id}")).Json();
        Assert.Equal(("processing", "payment provider"), (status.Str("status"), status.Str("waitingFor")));
        // The runner let go of it; lease sweeps (every half second here) keep it waiting rather than retry it.
        var holder = await Eventually.Get(() => LeaseHolder(id), h => h is not null, "a sweep to hold the waiting job's lease");
        Assert.Equal("waiting for the payment provider", holder);
        Assert.Equal(1, (await (await _client.GetAsync($"/jobs/{id}")).Json()).GetProperty("attempt").GetInt32());

        var response = await Send(NewId(), $$$"""{"type":"payment.succeeded","data":{"jobId":"{{{id}}}","chargeId":"ch_1"}}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("completed", (await NextNamed(sse, "completed")).Json.Str("status"));
        Assert.Equal("ch_1", (await (await _client.GetAsync($"/jobs/{id}/result")).Json()).Str("chargeId"));
    }

    [Fact]
    public async Task A_failure_webhook_naming_the_correlation_id_fails_the_payment_for_good_with_the_providers_code()
    {
        var correlation = "order-" + Guid.NewGuid();
        var id = await SubmitPayment(correlation);
        await WaitUntilSuspended(id);

        await Send(NewId(), $$$"""{"type":"payment.failed","data":{"correlationId":"{{{correlation}}}","code":"card_declined","message":"Declined."}}""");

        var job = await Eventually.Get(async () => await (await _client.GetAsync($"/jobs/{id}")).Json(), j => j.Str("status") == "failed", "the payment to fail");
        Assert.Equal("card_declined", job.GetProperty("error").Str("code"));
    }

    [Fact]
    public async Task A_webhook_sent_again_is_stored_once_and_changes_the_job_once()
    {
        var id = await SubmitPayment();
        await WaitUntilSuspended(id);
        var webhookId = NewId();
        var body = $$$"""{"type":"payment.succeeded","data":{"jobId":"{{{id}}}"}}""";

        var first = await Send(webhookId, body);
        var again = await Send(webhookId, body);

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.OK), (first.StatusCode, again.StatusCode));
        Assert.True((await again.Json()).GetProperty("duplicate").GetBoolean());
        var stored = await Eventually.Get(() => Stored(webhookId), w => w.Count == 1 && w[0].Outcome is not null, "the webhook to be applied");
        Assert.Equal("completed", stored[0].Outcome);
        var events = await api.Events(id);
        var completed = Assert.Single(events, e => e.EventTypeName == "job.completed");
        Assert.Equal($"webhook:{ApiWithProvider.Provider}/{webhookId}", completed.CausationId);
    }

    [Fact]
    public async Task A_payment_the_provider_never_reports_on_fails_when_its_wait_is_over()
    {
        var id = await SubmitPayment(waitSeconds: 1);

        var job = await Eventually.Get(async () => await (await _client.GetAsync($"/jobs/{id}")).Json(), j => j.Str("status") == "failed", "the wait to run out");

        Assert.Equal("wait_timed_out", job.GetProperty("error").Str("code"));
        Assert.Equal(1, job.GetProperty("attempt").GetInt32());
    }

    [Theory]
    [InlineData("signature")]
    [InlineData("stale")]
    [InlineData("future")]
    [InlineData("unsigned")]
    public async Task A_webhook_whose_signature_does_not_check_out_is_refused_with_401_and_nothing_is_stored(string fault)
    {
        var id = await SubmitPayment();
        await WaitUntilSuspended(id);
        var webhookId = NewId();
        var body = $$$"""{"type":"payment.succeeded","data":{"jobId":"{{{id}}}"}}""";
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + fault switch { "stale" => -301, "future" => 301, _ => 0 };
        using var request = Request(webhookId, timestamp, body, fault == "signature" ? "whsec_" + Convert.ToBase64String(new byte[24]) : ApiWithProvider.Secret);
        if (fault == "unsigned")
            request.Headers.Remove("webhook-signature");

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await Stored(webhookId));
        Assert.Equal("processing", (await (await _client.GetAsync($"/jobs/{id}")).Json()).Str("status"));
    }

    [Theory]
    [InlineData("""{"type":"payment.succeeded","data":{}}""", "data")]
    [InlineData("""{"type":"payment.succeeded","data":{"jobId":42}}""", "data")]
    [InlineData("""{"data":{"jobId":"4c9e1f5a-0000-0000-0000-000000000000"}}""", "type")]
    [InlineData("""[1,2]""", "$")]
    public async Task A_signed_webhook_that_names_no_job_is_refused_with_400_and_nothing_is_stored(string body, string field)
    {
        var webhookId = NewId();

        var response = await Send(webhookId, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty(field, out _), $"no error about {field}");
        Assert.Empty(await Stored(webhookId));
    }

    [Fact]
    public async Task An_unknown_provider_is_404()
    {
        var response = await _client.PostAsync("/webhooks/nobody", new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("unknown_provider", (await response.Json()).Str("code"));
    }

    private async Task<Guid> SubmitPayment(string? correlationId = null, int? waitSeconds = null)
    {
        var wait = waitSeconds is null ? "" : $",\"waitSeconds\":{waitSeconds}";
        var body = $$$"""{"type":"payment","input":{"amount":12.50,"currency":"EUR"{{{wait}}}},"correlationId":{{{JsonSerializer.Serialize(correlationId)}}}}""";
        var response = await _client.PostJson("/jobs", body, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Json()).GetProperty("jobId").GetGuid();
    }

    private Task WaitUntilSuspended(Guid id) =>
        Eventually.Get(async () => await (await _client.GetAsync($"/jobs/{id}")).Json(), j => j.TryGetProperty("waitingFor", out _), "the payment to wait for its provider");

    private static async Task<SseEvent> NextNamed(SseStream sse, string name)
    {
        while (await sse.Next() is { } e)
        {
            if (e.Event == name)
                return e;
        }
        throw new InvalidOperationException($"The stream ended without a '{name}' event.");
    }

    private Task<HttpResponseMessage> Send(string webhookId, string body) =>
        _client.SendAsync(Request(webhookId, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), body, ApiWithProvider.Secret));

    /// <summary>A webhook as the provider signs it, by the specification and with code of the test's own.</summary>
    private static HttpRequestMessage Request(string webhookId, long timestamp, string body, string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signature = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{webhookId}.{timestamp}.{body}")));
        var request = new HttpRequestMessage(HttpMethod.Post, $"/webhooks/{ApiWithProvider.Provider}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("webhook-id", webhookId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", "v1," + signature);
        return request;
    }

    private static string NewId() => "msg_" + Guid.NewGuid().ToString("N");

    private async Task<string?> LeaseHolder(Guid jobId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(api.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT holder FROM jobs.job_leases WHERE job_id = $1", connection) { Parameters = { new() { Value = jobId } } };
        return (string?)await command.ExecuteScalarAsync();
    }

    private async Task<IReadOnlyList<ProviderWebhook>> Stored(string webhookId)
    {
        await using var session = api.Host.Services.GetRequiredService<IDocumentStore>().QuerySession(Tenants.Default);
        return await session.Query<ProviderWebhook>().Where(w => w.WebhookId == webhookId).ToListAsync();
    }
}
