using System.Net;
using System.Text.Json;

namespace EventSourced.Client;

/// <summary>
/// The service refused a request with application/problem+json: its status, its stable <see cref="Code"/> (the one to
/// branch on), its title and detail, and the whole problem for fields of its own (<see cref="Problem"/>).
/// </summary>
public class JobsApiException : Exception
{
    public JobsApiException(HttpStatusCode status, string? code, string? title, string? detail, JsonElement? problem)
        : base($"{(int)status} {code ?? "(no code)"}: {title}{(detail is null ? "" : $" {detail}")}")
    {
        Status = status;
        Code = code;
        Title = title;
        Detail = detail;
        Problem = problem;
    }

    public HttpStatusCode Status { get; }

    /// <summary>The problem's "code" (job_not_found, idempotency_key_reused, ...); null when the answer was not the service's problem+json (a proxy's page).</summary>
    public string? Code { get; }

    public string? Title { get; }
    public string? Detail { get; }

    /// <summary>The problem as sent, for its other fields (a validation problem's "errors", say).</summary>
    public JsonElement? Problem { get; }

    /// <summary>The exception for an answer that is not a success: the typed one its code calls for.</summary>
    internal static JobsApiException From(HttpStatusCode status, string body, string? mediaType)
    {
        JsonElement? problem = null;
        if (mediaType is "application/problem+json" or "application/json" && body.Length > 0)
        {
            try
            {
                problem = JsonSerializer.Deserialize<JsonElement>(body);
            }
            catch (JsonException)
            {
                // Not JSON after all: described by its status alone, below.
            }
        }
        if (problem is not { ValueKind: JsonValueKind.Object } p)
            return new JobsApiException(status, null, $"The answer was {(int)status} {mediaType}, not a problem from the service.", Truncate(body), null);

        var code = Text(p, "code");
        var title = Text(p, "title");
        var detail = Text(p, "detail");
        return (status, code) switch
        {
            (HttpStatusCode.UnprocessableEntity, "idempotency_key_reused") when p.TryGetProperty("jobId", out var id) && id.TryGetGuid(out var jobId) =>
                new IdempotencyKeyReusedException(jobId, title, detail, p),
            (HttpStatusCode.PreconditionFailed, _) when p.TryGetProperty("currentVersion", out var v) && v.TryGetInt64(out var version) =>
                new VersionMismatchException(version, code, title, detail, p),
            _ => new JobsApiException(status, code, title, detail, p),
        };
    }

    private static string? Text(JsonElement problem, string name) =>
        problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string body) => body.Length <= 500 ? body : body[..500] + "...";
}

/// <summary>
/// 422 idempotency_key_reused: the key was used before for another request, which made <see cref="ExistingJobId"/>.
/// Never retried: a new piece of work needs a new key.
/// </summary>
public sealed class IdempotencyKeyReusedException(Guid existingJobId, string? title, string? detail, JsonElement problem)
    : JobsApiException(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused", title, detail, problem)
{
    public Guid ExistingJobId { get; } = existingJobId;
}

/// <summary>412: the job moved past the version an If-Match named; it is now at <see cref="CurrentVersion"/>.</summary>
public sealed class VersionMismatchException(long currentVersion, string? code, string? title, string? detail, JsonElement problem)
    : JobsApiException(HttpStatusCode.PreconditionFailed, code, title, detail, problem)
{
    public long CurrentVersion { get; } = currentVersion;
}

/// <summary>
/// The job's event stream answered with something that is not a stream and not a problem from the service: a proxy in
/// between that does not pass Server-Sent Events. <see cref="JobHandle.WaitForCompletionAsync"/> then waits by long polling.
/// </summary>
public sealed class EventStreamUnavailableException(HttpStatusCode status, string? mediaType)
    : Exception($"The event stream answered {(int)status} {mediaType ?? "(no content type)"} instead of text/event-stream: something between here and the service does not pass it.")
{
    public HttpStatusCode Status { get; } = status;
}
