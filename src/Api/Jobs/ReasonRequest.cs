using EventSourced.Api.Http;
using FluentValidation;

namespace EventSourced.Api.Jobs;

/// <summary>The optional body of a cancel (or a release): why, for the job's history.</summary>
public sealed record ReasonRequest(string? Reason)
{
    public static readonly ReasonRequest None = new((string?)null);
}

public sealed class ReasonRequestValidator : AbstractValidator<ReasonRequest>
{
    public ReasonRequestValidator() => RuleFor(r => r.Reason).MaximumLength(RequestLimits.MaxReasonChars);
}
