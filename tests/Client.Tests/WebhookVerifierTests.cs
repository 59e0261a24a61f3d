using System.Collections.Concurrent;
using System.Text;
using EventSourced.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventSourced.Client.Tests;

/// <summary>The verifier against the Standard Webhooks specification's published test vector, and against real callbacks of the service.</summary>
public sealed class WebhookVerifierTests(Service service) : IClassFixture<Service>
{
    // The specification's test vector (standard-webhooks/standard-webhooks, the reference libraries' tests).
    private const string VectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string VectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long VectorTimestamp = 1614265330;
    private const string VectorBody = """{"test": 2432232314}""";
    private const string VectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    private static readonly TimeProvider AtTheVector = new FixedClock(DateTimeOffset.FromUnixTimeSeconds(VectorTimestamp));

    [Fact]
    public void The_specifications_test_vector_signs_and_verifies()
    {
        Assert.Equal(VectorSignature, WebhookVerifier.Sign(VectorSecret, VectorId, VectorTimestamp, Encoding.UTF8.GetBytes(VectorBody)));
        new WebhookVerifier([VectorSecret], clock: AtTheVector).Verify(VectorId, $"{VectorTimestamp}", VectorSignature, VectorBody);
        // The prefix may be left out, as the reference libraries allow.
        new WebhookVerifier(["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], clock: AtTheVector).Verify(VectorId, $"{VectorTimestamp}", VectorSignature, VectorBody);
    }

    [Fact]
    public void During_a_rotation_a_webhook_signed_with_any_of_the_secrets_passes_among_signatures_of_other_kinds()
    {
        var verifier = new WebhookVerifier([Service.NewSecret, VectorSecret], clock: AtTheVector);
        var header = $"v1a,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {VectorSignature}";

        verifier.Verify(VectorId, $"{VectorTimestamp}", header, VectorBody);
    }

    [Theory]
    [InlineData(VectorId, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd=", VectorBody, "signature")]
    [InlineData(VectorId, "1614265330", VectorSignature, """{"test": 2432232315}""", "signature")]
    [InlineData("msg_other", "1614265330", VectorSignature, VectorBody, "signature")]
    [InlineData(VectorId, "1614265331", VectorSignature, VectorBody, "signature")]
    [InlineData(VectorId, "1614265029", VectorSignature, VectorBody, "more than")]
    [InlineData(VectorId, "1614265631", VectorSignature, VectorBody, "more than")]
    [InlineData(VectorId, "soon", VectorSignature, VectorBody, "not a number")]
    [InlineData(null, "1614265330", VectorSignature, VectorBody, "required")]
    [InlineData(VectorId, null, VectorSignature, VectorBody, "required")]
    [InlineData(VectorId, "1614265330", null, VectorBody, "required")]
    public void A_webhook_that_is_altered_unsigned_or_outside_the_tolerance_fails_saying_why(string? id, string? timestamp, string? signature, string body, string why)
    {
        var verifier = new WebhookVerifier([VectorSecret], clock: AtTheVector);

        var failure = Assert.Throws<WebhookVerificationException>(() => verifier.Verify(id, timestamp, signature, body));

        Assert.Contains(why, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_webhook_signed_with_a_secret_the_verifier_does_not_have_fails()
    {
        var verifier = new WebhookVerifier([Service.NewSecret], clock: AtTheVector);

        Assert.Throws<WebhookVerificationException>(() => verifier.Verify(VectorId, $"{VectorTimestamp}", VectorSignature, VectorBody));
    }

    [Fact]
    public async Task A_real_callback_of_the_service_verifies_with_either_secret_of_its_rotation_and_reads_as_the_job()
    {
        await using var receiver = await Receiver.Start();
        var job = await service.Client().SubmitAsync("transcode", new { fileId = "called-back", steps = 1, stepMs = 0 },
            new SubmitOptions { CallbackUrl = receiver.Url, CallbackEvents = ["completed"] });

        var received = await Eventually.Get(() => Task.FromResult(receiver.Received.ToList()), r => r.Count > 0, "the callback");

        var hook = Assert.Single(received);
        foreach (var secret in new[] { Service.OldSecret, Service.NewSecret })
        {
            var callback = new WebhookVerifier(secret).VerifyJobCallback(hook.Id, hook.Timestamp, hook.Signature, hook.Body);
            Assert.Equal("job.completed", callback.Type);
            Assert.Equal(job.Id, callback.Data.JobId);
            Assert.Equal(JobStatuses.Completed, callback.Data.Status);
            Assert.Equal(hook.Id, callback.WebhookId);
        }
        Assert.Throws<WebhookVerificationException>(() => new WebhookVerifier(Service.NewSecret).Verify(hook.Id, hook.Timestamp, hook.Signature, hook.Body.Replace("completed", "cancelled", StringComparison.Ordinal)));
        Assert.Throws<WebhookVerificationException>(() => new WebhookVerifier("whsec_" + Convert.ToBase64String(new byte[24])).Verify(hook.Id, hook.Timestamp, hook.Signature, hook.Body));
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>A receiver of callbacks on loopback that keeps each as it came: headers and the body's exact text.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        public sealed record Hook(string? Id, string? Timestamp, string? Signature, string Body);

        private readonly WebApplication _app;

        private Receiver(WebApplication app) => _app = app;

        public ConcurrentQueue<Hook> Received { get; } = new();
        public Uri Url { get; private set; } = null!;

        public static async Task<Receiver> Start()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var receiver = new Receiver(builder.Build());
            receiver._app.MapPost("/hooks/jobs", async (HttpContext http) =>
            {
                var headers = http.Request.Headers;
                receiver.Received.Enqueue(new Hook(headers[WebhookVerifier.IdHeader], headers[WebhookVerifier.TimestampHeader],
                    headers[WebhookVerifier.SignatureHeader], await new StreamReader(http.Request.Body).ReadToEndAsync()));
                return Results.Ok();
            });
            await receiver._app.StartAsync();
            var address = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            receiver.Url = new Uri(address + "/hooks/jobs");
            return receiver;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
