using System.Text.Json;
using EventSourced.Api.Http;
using FluentValidation;

namespace EventSourced.Api.Workers;

public sealed record ClaimRequest(string[]? Types, int? LeaseSeconds, string? Worker);

/// <summary>What a worker gets with a claim: the work, and the lease token that lets it report on it.</summary>
public sealed record ClaimedWork(
    Guid JobId, string Type, JsonElement Input, int Attempt, string TenantId, string? CorrelationId, int TimeoutSeconds,
    Guid LeaseToken, DateTimeOffset LeaseExpiresAt, WorkerLinks Links);

public sealed record WorkerLinks(string Heartbeat, string Progress, string Complete, string Fail, string Release);

/// <summary>Every call a worker makes about a job it claimed proves its lease with the token.</summary>
public interface IFromLeaseHolder
{
    Guid? LeaseToken { get; }
}

public sealed record HeartbeatRequest(Guid? LeaseToken, int? LeaseSeconds) : IFromLeaseHolder;

public sealed record ProgressRequest(Guid? LeaseToken, int? Percent, string? Message) : IFromLeaseHolder;

public sealed record CompleteRequest(Guid? LeaseToken, JsonElement? Result, string? ContentType) : IFromLeaseHolder;

/// <summary>A failed attempt. Not retryable (a bad input, say) fails the job at once.</summary>
public sealed record FailRequest(Guid? LeaseToken, string? ErrorCode, string? ErrorMessage, bool? Retryable) : IFromLeaseHolder;

/// <summary>Gives the job back unfinished: run again at once, or cancelled when cancellation was requested.</summary>
public sealed record ReleaseRequest(Guid? LeaseToken, string? Reason) : IFromLeaseHolder;

public sealed record LeaseRenewed(DateTimeOffset LeaseExpiresAt, bool CancellationRequested);

public sealed record WorkerOutcome(string Status, int Attempt, long Version, bool CancellationRequested);

internal static class WorkerRules
{
    public static void LeaseToken<T>(this AbstractValidator<T> validator) where T : IFromLeaseHolder =>
        validator.RuleFor(r => r.LeaseToken).NotNull().WithMessage("'leaseToken' is required: it is the token your claim returned.");
}

public sealed class ClaimRequestValidator : AbstractValidator<ClaimRequest>
{
    public ClaimRequestValidator(JobTypes.JobTypeRegistry types)
    {
        var external = types.All.Where(t => !t.RunsInProcess).Select(t => t.Name).Order().ToList();
        RuleFor(r => r.Types).NotEmpty().WithMessage("'types' must name the job types this worker runs.");
        RuleFor(r => r.Types).Must(list => list!.Length <= RequestLimits.MaxListItems).When(r => r.Types is not null)
            .WithMessage($"'types' may name at most {RequestLimits.MaxListItems} job types.");
        RuleForEach(r => r.Types).MaximumLength(RequestLimits.MaxNameChars);
        // An overlong name has its own error, and is not repeated in another.
        RuleForEach(r => r.Types).Must(type => type is not null && (type.Length > RequestLimits.MaxNameChars || types.Find(type) is not null))
            .WithMessage((_, type) => $"Unknown job type '{type}'. The types are: {string.Join(", ", types.Names.Order())}.");
        // A type the service runs itself is never left for a worker: claiming it would wait forever.
        RuleForEach(r => r.Types).Must(type => type is null || types.Find(type) is not { RunsInProcess: true })
            .WithMessage((_, type) => $"'{type}' is run by the service itself; workers claim only external types"
                + (external.Count > 0 ? $": {string.Join(", ", external)}." : ", and none is configured (Jobs__Types__<type>__External=true)."));
        RuleFor(r => r.LeaseSeconds).InclusiveBetween(RequestLimits.MinLeaseSeconds, RequestLimits.MaxLeaseSeconds);
        RuleFor(r => r.Worker).MaximumLength(RequestLimits.MaxNameChars);
    }
}

public sealed class HeartbeatRequestValidator : AbstractValidator<HeartbeatRequest>
{
    public HeartbeatRequestValidator()
    {
        this.LeaseToken();
        RuleFor(r => r.LeaseSeconds).InclusiveBetween(RequestLimits.MinLeaseSeconds, RequestLimits.MaxLeaseSeconds);
    }
}

public sealed class ProgressRequestValidator : AbstractValidator<ProgressRequest>
{
    public ProgressRequestValidator()
    {
        this.LeaseToken();
        RuleFor(r => r.Percent).NotNull().InclusiveBetween(0, 100);
        RuleFor(r => r.Message).MaximumLength(RequestLimits.MaxProgressMessageChars);
    }
}

public sealed class CompleteRequestValidator : AbstractValidator<CompleteRequest>
{
    public CompleteRequestValidator()
    {
        this.LeaseToken();
        RuleFor(r => r.Result).NotNull().WithMessage("'result' is required: any JSON, or a JSON string with a contentType.");
        // The length unconditionally (null passes it anyway), so that the document can say it.
        RuleFor(r => r.ContentType).MaximumLength(RequestLimits.MaxNameChars)
            .Must(type => Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(type, out var parsed) && parsed.MediaType.Value!.Contains('/'))
            .When(r => r.ContentType is not null, ApplyConditionTo.CurrentValidator)
            .WithMessage("'contentType' must be a media type, such as text/csv.");
        RuleFor(r => r.Result).Must(result => result!.Value.ValueKind == JsonValueKind.String)
            .When(r => r.Result is not null && r.ContentType is not null && !Jobs.Result.JobResultEndpoint.IsJson(r.ContentType))
            .WithMessage("A result that is not JSON is sent as a JSON string holding its text.");
    }
}

public sealed class FailRequestValidator : AbstractValidator<FailRequest>
{
    public FailRequestValidator()
    {
        this.LeaseToken();
        RuleFor(r => r.ErrorCode).NotEmpty().MaximumLength(RequestLimits.MaxErrorCodeChars);
        RuleFor(r => r.ErrorMessage).NotEmpty().MaximumLength(RequestLimits.MaxErrorMessageChars);
    }
}

public sealed class ReleaseRequestValidator : AbstractValidator<ReleaseRequest>
{
    public ReleaseRequestValidator()
    {
        this.LeaseToken();
        RuleFor(r => r.Reason).MaximumLength(RequestLimits.MaxReasonChars);
    }
}
