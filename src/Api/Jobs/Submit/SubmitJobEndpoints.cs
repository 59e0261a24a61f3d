using EventSourced.Api.Errors;
using System.Diagnostics;
using System.Text.Json;
using EventSourced.Api.Http;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using FluentValidation;

namespace EventSourced.Api.Jobs.Submit;

/// <summary>A submission. <paramref name="MaxAttempts"/> and <paramref name="TimeoutSeconds"/> override the job type's policy for this job.</summary>
public sealed record SubmitJobRequest(string? Type, JsonElement? Input, string? CallbackUrl, string? CorrelationId, int? MaxAttempts = null, int? TimeoutSeconds = null);

public sealed record JobAccepted(Guid JobId, string Status, string StatusUrl, string EventsUrl);

public sealed class SubmitJobRequestValidator : AbstractValidator<SubmitJobRequest>
{
    public SubmitJobRequestValidator(JobTypeRegistry types)
    {
        RuleFor(r => r.Type).NotEmpty();
        RuleFor(r => r.Type)
            .Must(type => types.Find(type!) is not null).When(r => !string.IsNullOrEmpty(r.Type))
            .WithMessage(r => $"Unknown job type '{r.Type}'. The types are: {string.Join(", ", types.Names.Order())}.");
        RuleFor(r => r.Input).Must(input => input is { ValueKind: JsonValueKind.Object }).WithMessage("'input' must be a JSON object.");
        RuleFor(r => r.CallbackUrl)
            .Must(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
            .When(r => r.CallbackUrl is not null)
            .WithMessage("'callbackUrl' must be an absolute http or https URL.");
        RuleFor(r => r.CorrelationId).MaximumLength(200);
        RuleFor(r => r.MaxAttempts).InclusiveBetween(1, 100);
        RuleFor(r => r.TimeoutSeconds).InclusiveBetween(1, 7 * 24 * 3600);
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

    public static void MapSubmit(this IEndpointRouteBuilder app, JobTypeRegistry types)
    {
        app.MapPost("/jobs", SubmitAnyType)
            .WithName("SubmitJob")
            .WithSummary("Submit work of any type: {\"type\", \"input\", \"callbackUrl\"?, \"correlationId\"?}.");
        foreach (var type in types.All.Where(t => t.SubmitRoute is not null))
        {
            app.MapPost(type.SubmitRoute!, (HttpContext http, Tenant tenant, JobSubmissions submissions, CancellationToken ct) =>
                    SubmitOneType(type.Name, http, tenant, submissions, ct))
                .WithName("Submit_" + type.Name)
                .WithSummary($"Submit a {type.Name} job; the body is its input.");
        }
    }

    private static async Task<IResult> SubmitAnyType(HttpContext http, Tenant tenant, JobSubmissions submissions, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.Read(http.Request, ct);
        if (problem is not null)
            return problem;
        var (request, errors) = JsonBody.Deserialize<SubmitJobRequest>(body, JobSubmissions.RequestJson, "");
        return errors is not null ? Problems.Validation(errors) : await submissions.Submit(request!, http, tenant, ct);
    }

    private static async Task<IResult> SubmitOneType(string type, HttpContext http, Tenant tenant, JobSubmissions submissions, CancellationToken ct)
    {
        var (body, problem) = await JsonBody.Read(http.Request, ct);
        return problem ?? await submissions.Submit(new SubmitJobRequest(type, body, null, null), http, tenant, ct);
    }
}

public sealed class JobSubmissions(
    PostgresEventStore store, JobQueries queries, JobTypeRegistry types, IValidator<SubmitJobRequest> validator, TimeProvider clock)
{
    public static readonly JsonSerializerOptions RequestJson = new(JsonBody.Strict)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task<IResult> Submit(SubmitJobRequest request, HttpContext http, Tenant tenant, CancellationToken ct)
    {
        var key = http.Request.Headers[SubmitJobEndpoints.IdempotencyKeyHeader].ToString();
        if (string.IsNullOrWhiteSpace(key))
        {
            return Problems.Problem(StatusCodes.Status400BadRequest, "idempotency_key_missing", "An Idempotency-Key header is required.",
                "Send a new unique value (a UUID) per piece of work, and the same value again when you retry it.");
        }
        if (key.Length > Idempotency.MaxKeyLength)
        {
            return Problems.Problem(StatusCodes.Status400BadRequest, "idempotency_key_too_long", "The Idempotency-Key is too long.",
                $"It has {key.Length} characters; the limit is {Idempotency.MaxKeyLength}.");
        }

        var errors = await Validate(request, ct);
        if (errors.Count > 0)
            return Problems.Validation(errors);

        var type = types.Find(request.Type!)!;
        var jobId = Idempotency.JobId(tenant.Id, key);
        var fingerprint = Idempotency.Fingerprint(JsonSerializer.SerializeToElement(request, RequestJson));
        var submitted = JobDecider.Decide(
            new JobCommand.SubmitJob(jobId, type.Name, request.Input!.Value, request.CallbackUrl, request.CorrelationId, fingerprint, key,
                request.MaxAttempts ?? type.MaxAttempts, request.TimeoutSeconds ?? (int)Math.Ceiling(type.Timeout.TotalSeconds)),
            null, clock.GetUtcNow());
        var metadata = new EventMetadata(
            CorrelationId: request.CorrelationId ?? Activity.Current?.TraceId.ToString(),
            CausationId: http.TraceIdentifier,
            Actor: "api");
        try
        {
            await store.StartStream(jobId, "job", [.. submitted], metadata, tenant.Id, ct);
            return Accepted(jobId, http, replayed: false);
        }
        catch (StreamAlreadyExistsException)
        {
            var existing = await queries.Status(jobId, tenant.Id, ct)
                ?? throw new InvalidOperationException($"Job {jobId} exists but has no status row.");
            return existing.Fingerprint == fingerprint
                ? Accepted(jobId, http, replayed: true)
                : Problems.Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused",
                    "This Idempotency-Key was used for a different request.",
                    $"Job {jobId} was submitted with this key and another body. Use a new key for new work.",
                    new Dictionary<string, object?> { ["jobId"] = jobId });
        }
    }

    private async Task<Dictionary<string, string[]>> Validate(SubmitJobRequest request, CancellationToken ct)
    {
        var result = await validator.ValidateAsync(request, ct);
        var errors = result.Errors.GroupBy(e => e.PropertyName).ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray());
        if (errors.Count == 0 && types.Find(request.Type!) is { } type)
            errors = await type.ValidateInput(request.Input!.Value, ct);
        return errors;
    }

    private static IResult Accepted(Guid jobId, HttpContext http, bool replayed)
    {
        http.Response.Headers.RetryAfter = "1";
        if (replayed)
            http.Response.Headers["Idempotent-Replayed"] = "true";
        return TypedResults.Accepted(JobLinks.Status(jobId), new JobAccepted(jobId, "queued", JobLinks.Status(jobId), JobLinks.Events(jobId)));
    }
}
