using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace EventSourced.Client;

/// <summary>A job a claim leased to this worker: the work, and the token that proves the lease on every later call.</summary>
internal sealed record ClaimedWork(
    Guid JobId, string Type, JsonElement Input, int Attempt, string TenantId, string? CorrelationId, int TimeoutSeconds,
    Guid LeaseToken, DateTimeOffset LeaseExpiresAt);

internal sealed record LeaseRenewed(DateTimeOffset LeaseExpiresAt, bool CancellationRequested);

/// <summary>
/// The workers' routes of the service (docs/clients/workers.md), on the client's <see cref="ApiTransport"/>: the same
/// key, the same retries with backoff for connection failures, 429 and 5xx, the same problems. Every call is safe to
/// send twice: a repeat of a call that was recorded finds the lease given up and answers 409, which records nothing.
/// </summary>
internal sealed class WorkerApi(ApiTransport transport)
{
    /// <summary>
    /// The 409 codes that say this worker no longer runs the attempt (the lease ran out, the job was given to someone
    /// else or finished): stop working on it and record nothing. Another 409 (concurrent_change, progress_backwards) is not about the lease.
    /// </summary>
    private static readonly HashSet<string> LeaseLostCodes = ["lease_not_held", "lease_expired", "attempt_superseded", "job_already_finished", "job_not_processing"];

    public static bool IsLeaseLost(Exception e) =>
        e is JobsApiException { Status: HttpStatusCode.Conflict, Code: { } code } && LeaseLostCodes.Contains(code);

    /// <summary>One job of <paramref name="types"/>, waiting up to <paramref name="wait"/> for one (Prefer: wait); null when none came.</summary>
    public async Task<ClaimedWork?> ClaimAsync(IReadOnlyCollection<string> types, TimeSpan lease, TimeSpan wait, string worker, CancellationToken ct)
    {
        var body = new { types, leaseSeconds = (int)lease.TotalSeconds, worker };
        using var response = await transport.SendAsync(() =>
        {
            var request = Post("workers/claims", body);
            request.Headers.Add("Prefer", string.Create(CultureInfo.InvariantCulture, $"wait={(int)wait.TotalSeconds}"));
            return request;
        }, ct);
        return response.StatusCode == HttpStatusCode.NoContent ? null : await transport.ReadAsync<ClaimedWork>(response, ct);
    }

    public async Task<LeaseRenewed> HeartbeatAsync(ClaimedWork work, CancellationToken ct)
    {
        using var response = await transport.SendAsync(() => Post(Route(work, "heartbeat"), new { leaseToken = work.LeaseToken }), ct);
        return await transport.ReadAsync<LeaseRenewed>(response, ct);
    }

    public Task ProgressAsync(ClaimedWork work, int percent, string? message, CancellationToken ct) =>
        SendAsync(work, "progress", new { leaseToken = work.LeaseToken, percent, message }, ct);

    public Task CompleteAsync(ClaimedWork work, JsonElement result, CancellationToken ct) =>
        SendAsync(work, "complete", new { leaseToken = work.LeaseToken, result }, ct);

    public Task FailAsync(ClaimedWork work, string errorCode, string errorMessage, bool retryable, CancellationToken ct) =>
        SendAsync(work, "fail", new { leaseToken = work.LeaseToken, errorCode, errorMessage, retryable }, ct);

    public Task ReleaseAsync(ClaimedWork work, string reason, CancellationToken ct) =>
        SendAsync(work, "release", new { leaseToken = work.LeaseToken, reason }, ct);

    private async Task SendAsync(ClaimedWork work, string action, object body, CancellationToken ct)
    {
        using var response = await transport.SendAsync(() => Post(Route(work, action), body), ct);
    }

    private static string Route(ClaimedWork work, string action) => $"workers/jobs/{work.JobId}/{action}";

    private HttpRequestMessage Post(string path, object body) =>
        new(HttpMethod.Post, transport.Url(path)) { Content = JsonContent.Create(body, body.GetType(), options: ClientJson.Options) };
}
