using System.Net.Http.Json;
using System.Text.Json;

namespace EventSourced.Client;

/// <summary>
/// The jobs service's client: submits work, and gives a <see cref="JobHandle"/> for a job, also one rebuilt from its id
/// alone after your app restarted (<see cref="Job"/>). Built on the HttpClient you give it (from IHttpClientFactory, say),
/// which it does not dispose.
/// </summary>
public sealed class JobsClient
{
    public JobsClient(HttpClient http, JobsClientOptions options) => Transport = new ApiTransport(http, options);

    /// <summary>The requests, retries and problems the handles share, for tools built on this client.</summary>
    public ApiTransport Transport { get; }

    /// <summary>A job you know by its id: nothing is asked of the service until you call the handle.</summary>
    public JobHandle Job(Guid id) => new(Transport, id, accepted: null);

    /// <summary>
    /// Submits a job of <paramref name="type"/> with <paramref name="input"/> (any object that serializes to a JSON object).
    /// Sent with an Idempotency-Key, made here when <see cref="SubmitOptions.IdempotencyKey"/> is not given, and the same
    /// key on every retry: a connection lost after the service took the job, a 429, a 503 or another 5xx is retried with
    /// backoff and lands on the same job, never a second one. Any other 4xx is thrown at once, as a
    /// <see cref="JobsApiException"/> (<see cref="IdempotencyKeyReusedException"/> when the key made another request's job).
    /// </summary>
    public async Task<JobHandle> SubmitAsync(string type, object input, SubmitOptions? options = null, CancellationToken ct = default)
    {
        options ??= new SubmitOptions();
        var key = options.IdempotencyKey ?? Guid.NewGuid().ToString();
        var body = new SubmitBody(type, JsonSerializer.SerializeToElement(input, input.GetType(), ClientJson.Options), options.CallbackUrl?.AbsoluteUri,
            options.CallbackEvents, options.CorrelationId, options.MaxAttempts, options.TimeoutSeconds);
        using var response = await Transport.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, Transport.Url("jobs")) { Content = JsonContent.Create(body, options: ClientJson.Options) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }, ct);
        var accepted = await Transport.ReadAsync<AcceptedBody>(response, ct);
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true");
        return new JobHandle(Transport, accepted.JobId,
            new JobAccepted(accepted.JobId, accepted.Status, accepted.StatusUrl, accepted.EventsUrl, key, replayed));
    }

    private sealed record SubmitBody(
        string Type, JsonElement Input, string? CallbackUrl, IReadOnlyList<string>? CallbackEvents, string? CorrelationId, int? MaxAttempts, int? TimeoutSeconds);

    private sealed record AcceptedBody(Guid JobId, string Status, Uri StatusUrl, Uri EventsUrl);
}
