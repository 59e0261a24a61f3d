using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace EventSourced.Client;

/// <summary>
/// Every request of the client goes through here: the address, the key, the retries of <see cref="RetryPolicy"/>, and
/// problems turned into <see cref="JobsApiException"/>. Public so that a worker host built on this client shares them.
/// </summary>
public sealed class ApiTransport
{
    private readonly HttpClient _http;
    private readonly Uri _base;

    public ApiTransport(HttpClient http, JobsClientOptions options)
    {
        _http = http;
        Options = options;
        var address = options.BaseAddress ?? http.BaseAddress
            ?? throw new ArgumentException("Set JobsClientOptions.BaseAddress (or the HttpClient's BaseAddress) to the service's address.", nameof(options));
        // With a trailing slash, relative paths resolve under a base path (https://example.com/api/ + jobs).
        _base = address.AbsoluteUri.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");
    }

    public JobsClientOptions Options { get; }

    /// <summary>The absolute URL of a path of the service ("jobs/123").</summary>
    public Uri Url(string path) => new(_base, path.TrimStart('/'));

    /// <summary>
    /// Sends a request, built afresh for every try by <paramref name="request"/>, and retries it as <see cref="RetryPolicy"/>
    /// says. Returns a 2xx or a 304 (the caller disposes it); throws <see cref="JobsApiException"/> for any other answer,
    /// and the last connection error when the tries run out. Only for requests that are safe to send twice: reads, and
    /// writes that the service makes idempotent (a submission with its Idempotency-Key, a cancel).
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(
        Func<HttpRequestMessage> request, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var policy = Options.Retry;
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await SendOnceAsync(request(), completion, ct);
            }
            catch (Exception e) when (IsConnectionFailure(e, ct) && attempt < policy.MaxAttempts)
            {
                await Task.Delay(policy.DelayBefore(attempt), ct);
                continue;
            }
            if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotModified)
                return response;
            var retryAfter = RetryPolicy.RetryAfter(response);
            if (RetryPolicy.IsRetryable(response.StatusCode) && attempt < policy.MaxAttempts && !(retryAfter > policy.MaxDelay))
            {
                response.Dispose();
                await Task.Delay(policy.DelayBefore(attempt, retryAfter), ct);
                continue;
            }
            throw await ProblemOf(response, ct);
        }
    }

    /// <summary>Sends once, with the key: no retry, no reading of the answer.</summary>
    public Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct)
    {
        if (Options.ApiKey is { Length: > 0 } key && request.Headers.Authorization is null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return _http.SendAsync(request, completion, ct);
    }

    /// <summary>Reads a JSON answer of a successful request.</summary>
    public async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct) =>
        await response.Content.ReadFromJsonAsync<T>(ClientJson.Options, ct)
        ?? throw new InvalidOperationException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} with no body.");

    /// <summary>The exception for an answer that is not a success (the answer is disposed).</summary>
    public static async Task<JobsApiException> ProblemOf(HttpResponseMessage response, CancellationToken ct)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            return JobsApiException.From(response.StatusCode, body, response.Content.Headers.ContentType?.MediaType);
        }
    }

    /// <summary>No answer at all: refused, reset, dropped mid-answer, or HttpClient's own time-out (not the caller's cancellation).</summary>
    public static bool IsConnectionFailure(Exception e, CancellationToken ct) =>
        e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested);
}
