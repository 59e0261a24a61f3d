using System.Text.Json;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;
using EventSourced.Api.Webhooks;
using EventSourced.Domain.Jobs;
using EventSourced.Projections.Jobs;
using EventSourced.Scheduling;
using ExistingStreamIdCollisionException = Marten.Exceptions.ExistingStreamIdCollisionException;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Wolverine.Http;

namespace EventSourced.Api.Jobs.Submit;

/// <summary>
/// A submission. <paramref name="MaxAttempts"/> and <paramref name="TimeoutSeconds"/> override the job type's policy for this job.
/// <paramref name="CallbackEvents"/> are what <paramref name="CallbackUrl"/> is called about (by default: the end of the job).
/// </summary>
public sealed record SubmitJobRequest(
    string? Type, JsonElement? Input, string? CallbackUrl, string? CorrelationId, int? MaxAttempts = null, int? TimeoutSeconds = null,
    IReadOnlyList<string>? CallbackEvents = null) : IJobPolicyRequest;

/// <param name="EventsUrl">The job's event stream, with a short-lived token a browser's EventSource can use (it sends no headers).</param>
public sealed record JobAccepted(Guid JobId, string Status, string StatusUrl, string EventsUrl);

public sealed class SubmitJobRequestValidator : AbstractValidator<SubmitJobRequest>
{
    public SubmitJobRequestValidator(JobTypeRegistry types, IOptions<WebhookOptions> webhooks)
    {
        RuleFor(r => r.Type).NotEmpty().MaximumLength(RequestLimits.MaxNameChars);
        RuleFor(r => r.Type)
            .Must(type => types.Find(type!) is not null).When(r => r.Type is { Length: > 0 and <= RequestLimits.MaxNameChars })
            .WithMessage(r => $"Unknown job type '{r.Type}'. The types are: {string.Join(", ", types.Names.Order())}.");
        // Not null first, with the same answer, so that the document can say the field is required.
        RuleFor(r => r.Input).Cascade(CascadeMode.Stop).NotNull().WithMessage("'input' must be a JSON object.")
            .Must(input => input is { ValueKind: JsonValueKind.Object }).WithMessage("'input' must be a JSON object.");
        RuleFor(r => r.CallbackUrl)
            .Must(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) && string.IsNullOrEmpty(uri.UserInfo)
                && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && webhooks.Value.IsAllowedHost(uri.Host))))
            .When(r => r.CallbackUrl is not null)
            .WithMessage("'callbackUrl' must be an absolute https URL without credentials (plain http only to the hosts in Webhooks:AllowedHosts).");
        RuleFor(r => r.CallbackUrl).MaximumLength(RequestLimits.MaxCallbackUrlChars);
        RuleFor(r => r.CallbackEvents).Must((r, _) => r.CallbackUrl is not null).When(r => r.CallbackEvents is not null)
            .WithMessage("'callbackEvents' needs a 'callbackUrl' to call.");
        RuleFor(r => r.CallbackEvents).Must(events => events!.Count <= RequestLimits.MaxListItems).When(r => r.CallbackEvents is not null)
            .WithMessage($"'callbackEvents' may name at most {RequestLimits.MaxListItems} events.");
        RuleForEach(r => r.CallbackEvents).Must(name => Callbacks.Names.Contains(name))
            .WithMessage((_, name) => $"'{name}' is not a callback event. They are: {string.Join(", ", Callbacks.Names)}.");
        RuleFor(r => r.CorrelationId).MaximumLength(RequestLimits.MaxNameChars);
        Include(new JobPolicyRequestValidator());
    }
}

/// <summary>
/// POST /jobs, and each job type's own route: 202 with the job's URLs. The job id comes from the
/// Idempotency-Key, so a retry finds the same stream: the same body gets the same 202 again, another
/// body gets 422. Duplicates that race are settled by the stream's primary key.
/// </summary>
public static class SubmitJobEndpoints
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    [Authorize(Policy = AccessPolicies.Submit)]
    [WolverinePost("/jobs", OperationId = "SubmitJob")]
    [EndpointSummary("Submit a job of any type, once per Idempotency-Key")]
    [RequestBody(typeof(SubmitJobRequest), Example = """
        {"type": "transcode", "input": {"fileId": "movie-1", "steps": 5, "stepMs": 500},
         "callbackUrl": "https://example.com/hooks/jobs", "callbackEvents": ["completed", "failed"], "correlationId": "order-42"}
        """)]
    [RequestHeaders(IdempotencyKeyHeader, Required = [IdempotencyKeyHeader])]
    [Responds(StatusCodes.Status202Accepted, typeof(JobAccepted), Headers = ["Location", "Retry-After", "Idempotent-Replayed"],
        Description = "Accepted, or accepted before with this key and body (Idempotent-Replayed: true).", Example = """
        {"jobId": "0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b", "status": "queued", "statusUrl": "https://jobs.example.com/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b",
         "eventsUrl": "https://jobs.example.com/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/events?access_token=1795563427.default.7JjF5b"}
        """)]
    [Problems(StatusCodes.Status400BadRequest, "idempotency_key_missing", "idempotency_key_too_long")]
    [Problems(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused")]
    public static async Task<IResult> SubmitAnyType(HttpContext http, [FromServices] JobSubmissions submissions, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.Read(http.Request, ct);
        if (problem is not null)
            return problem;
        var (request, errors) = JsonBody.Deserialize<SubmitJobRequest>(body, "");
        return errors is not null ? Problems.Validation(errors) : await submissions.Submit(request!, http, ct);
    }

    /// <summary>
    /// Each job type's own route, whose body is the input alone. Minimal-API endpoints: the routes are known
    /// only at start-up, from the handlers found, and Wolverine's routes come from attributes.
    /// </summary>
    public static void MapSubmitRoutes(this IEndpointRouteBuilder app, JobTypeRegistry types)
    {
        foreach (var type in types.All.Where(t => t.SubmitRoute is not null))
        {
            app.MapPost(type.SubmitRoute!, async (HttpContext http, JobSubmissions submissions, CancellationToken ct) =>
                {
                    // The body is the input: its errors are keyed by the body's own paths ("width", not "input.width").
                    var (body, problem) = await JsonBody.Read(http.Request, ct);
                    if (problem is not null)
                        return problem;
                    if (body.ValueKind != JsonValueKind.Object)
                        return Problems.Validation(new Dictionary<string, string[]> { ["$"] = ["Must be a JSON object."] });
                    return await submissions.Submit(new SubmitJobRequest(type.Name, body, null, null), http, ct, inputPath: "");
                })
                .RequireAuthorization(AccessPolicies.Submit)
                .WithName("Submit_" + type.Name)
                .WithMetadata(
                    new RequestBodyAttribute(type.InputType ?? typeof(JsonElement)),
                    new RequestHeadersAttribute(IdempotencyKeyHeader) { Required = [IdempotencyKeyHeader] },
                    new RespondsAttribute(StatusCodes.Status202Accepted, typeof(JobAccepted)) { Headers = ["Location", "Retry-After", "Idempotent-Replayed"] },
                    new ProblemsAttribute(StatusCodes.Status400BadRequest, "idempotency_key_missing", "idempotency_key_too_long"),
                    new ProblemsAttribute(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused"))
                .WithSummary($"Submit a {type.Name} job; the body is its input.");
        }
    }
}

public sealed class JobSubmissions(
    JobStreams streams, JobQueries queries, JobLookup lookup, JobTypeRegistry types, IValidator<SubmitJobRequest> validator, IOptions<WebhookOptions> webhooks,
    TimeProvider clock, StreamTokens tokens)
{
    private static readonly JsonSerializerOptions Canonical = new(JsonBody.Strict)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <param name="inputPath">Where the input is in the body, for its errors: "input" on POST /jobs, "" on a type's own route, whose body it is.</param>
    public async Task<IResult> Submit(SubmitJobRequest request, HttpContext http, CancellationToken ct, string inputPath = "input")
    {
        var tenant = Tenant.Of(http);
        var key = http.Request.Headers[SubmitJobEndpoints.IdempotencyKeyHeader].ToString();
        if (string.IsNullOrWhiteSpace(key))
        {
            return Problems.Problem(StatusCodes.Status400BadRequest, "idempotency_key_missing", "An Idempotency-Key header is required.",
                "Send a new unique value (a UUID) per piece of work, and the same value again when you retry it.");
        }
        if (key.Length > RequestLimits.MaxIdempotencyKeyChars)
        {
            return Problems.Problem(StatusCodes.Status400BadRequest, "idempotency_key_too_long", "The Idempotency-Key is too long.",
                $"It has {key.Length} characters; Idempotency-Key is limited to {RequestLimits.MaxIdempotencyKeyChars}.");
        }

        var errors = await Validate(request, inputPath, ct);
        if (errors.Count == 0 && request.CallbackUrl is not null && WebhookOptions.SecretsIn(webhooks.Value.Secrets.GetValueOrDefault(tenant)).Length == 0)
            errors["callbackUrl"] = [$"Callbacks are signed, and tenant '{tenant}' has no signing secret: an operator sets Webhooks:Secrets:{tenant}."];
        if (errors.Count > 0)
            return Problems.Validation(errors);

        var type = types.Find(request.Type!)!;
        var fingerprint = Idempotency.Fingerprint(JsonSerializer.SerializeToElement(request, Canonical));
        // The key's first job, or, when that one has expired, the next: the store's unique stream id settles races either way.
        for (var generation = 0; ; generation++)
        {
            var jobId = Idempotency.JobId(tenant, key, generation);
            var submit = new JobCommand.SubmitJob(jobId, type.Name, request.Input!.Value, request.CallbackUrl, request.CorrelationId, fingerprint, key,
                    request.MaxAttempts ?? type.MaxAttempts, request.TimeoutSeconds ?? (int)Math.Ceiling(type.Timeout.TotalSeconds), type.Backoff,
                    generation, request.CallbackEvents);
            try
            {
                var submitted = await streams.Submit(submit, tenant, RequestMetadata.Of(http), ct);
                var at = submitted.Events[0].At;
                return await Accepted(jobId, submitted.Job.State, runAfter: at, createdAt: at, type, http, replayed: false, at);
            }
            catch (ExistingStreamIdCollisionException)
            {
                var existing = await queries.Status(jobId, tenant, ct);
                // An archived job expired long before: its key is free again.
                if (existing is null ? await queries.IsArchived(jobId, tenant, ct) : lookup.IsExpired(existing))
                    continue;
                if (existing is null)
                    throw new InvalidOperationException($"Job {jobId} exists but has no status.");
                return existing.Fingerprint == fingerprint
                    ? await Accepted(jobId, existing.State, existing.RunAfter, existing.CreatedAt, type, http, replayed: true, clock.GetUtcNow())
                    : Problems.Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused",
                        "This Idempotency-Key was used for a different request.",
                        $"Job {jobId} was submitted with this key and another body. Use a new key for new work.",
                        new Dictionary<string, object?> { ["jobId"] = jobId });
            }
        }
    }

    private async Task<Dictionary<string, string[]>> Validate(SubmitJobRequest request, string inputPath, CancellationToken ct)
    {
        var result = await validator.ValidateAsync(request, ct);
        var errors = result.Errors.GroupBy(e => e.PropertyName).ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray());
        if (errors.Count == 0 && types.Find(request.Type!) is { } type)
            errors = await type.ValidateInput(request.Input!.Value, inputPath, ct);
        return errors;
    }

    /// <summary>The 202: where to follow the job, and where it stands now (a replay of a finished job says so).</summary>
    private async Task<IResult> Accepted(
        Guid jobId, Job state, DateTimeOffset? runAfter, DateTimeOffset createdAt, JobType type, HttpContext http, bool replayed, DateTimeOffset now)
    {
        RetryAfter.Set(http.Response, state, runAfter, createdAt, !type.RunsInProcess, now);
        if (replayed)
            http.Response.Headers["Idempotent-Replayed"] = "true";
        var links = JobLinks.For(http);
        var eventsUrl = await tokens.EventsUrl(links, jobId, Tenant.Of(http), http.RequestAborted);
        // Location is absolute too, from the same base as the body's URLs (RFC 9110 allows either): one answer, one origin.
        return TypedResults.Accepted(links.Status(jobId), new JobAccepted(jobId, JobDecider.Name(state.Status), links.Status(jobId), eventsUrl));
    }
}
