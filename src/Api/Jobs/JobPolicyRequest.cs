using EventSourced.Api.Http;
using FluentValidation;

namespace EventSourced.Api.Jobs;

/// <summary>A request that may set a job's own policy: a submission, and a redrive.</summary>
public interface IJobPolicyRequest
{
    int? MaxAttempts { get; }
    int? TimeoutSeconds { get; }
}

/// <summary>The bounds of a job's own policy, the same wherever it is set (each request's validator includes these rules).</summary>
public sealed class JobPolicyRequestValidator : AbstractValidator<IJobPolicyRequest>
{
    public JobPolicyRequestValidator()
    {
        RuleFor(r => r.MaxAttempts).InclusiveBetween(1, RequestLimits.MaxAttempts);
        RuleFor(r => r.TimeoutSeconds).InclusiveBetween(1, RequestLimits.MaxTimeoutSeconds);
    }
}
