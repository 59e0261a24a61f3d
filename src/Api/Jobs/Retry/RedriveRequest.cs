using EventSourced.Api.Http;
using FluentValidation;

namespace EventSourced.Api.Jobs.Retry;

/// <summary>
/// The optional body of a redrive: why, for the job's history, and the policy of the attempts it grants, when the old one is
/// what made the job fail (a time-out too short for the work, say). Unset, the job keeps its own.
/// </summary>
public sealed record RedriveRequest(string? Reason, int? MaxAttempts = null, int? TimeoutSeconds = null) : IJobPolicyRequest
{
    public static readonly RedriveRequest None = new((string?)null);
}

public sealed class RedriveRequestValidator : AbstractValidator<RedriveRequest>
{
    public RedriveRequestValidator()
    {
        RuleFor(r => r.Reason).MaximumLength(RequestLimits.MaxReasonChars);
        Include(new JobPolicyRequestValidator());
    }
}
