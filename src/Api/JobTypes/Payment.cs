using FluentValidation;

namespace EventSourced.Api.JobTypes;

/// <param name="Amount">In the currency's major unit (12.50 is twelve euros fifty).</param>
/// <param name="WaitSeconds">How long to wait for the provider's word before the payment fails (default 15 minutes).</param>
public sealed record PaymentInput(decimal Amount, string Currency, string? Description, int? WaitSeconds);

public sealed class PaymentInputValidator : AbstractValidator<PaymentInput>
{
    public PaymentInputValidator()
    {
        RuleFor(i => i.Amount).GreaterThan(0).LessThanOrEqualTo(1_000_000_000).PrecisionScale(12, 2, ignoreTrailingZeros: true);
        RuleFor(i => i.Currency).NotEmpty().Matches("^[A-Z]{3}$").WithMessage("'currency' must be an ISO 4217 code, such as EUR.");
        RuleFor(i => i.Description).MaximumLength(500);
        RuleFor(i => i.WaitSeconds).InclusiveBetween(1, 7 * 24 * 3600);
    }
}

/// <summary>
/// A payment: it asks the provider to authorize it, then waits, holding no runner, for the provider's webhook at
/// POST /webhooks/{provider} naming the job ("payment.succeeded" completes it, "payment.failed" fails it), or fails
/// when no word comes in time. The example stands in for the provider's API call, which would pass the job id along
/// (as the provider's metadata) for its webhook to name.
/// </summary>
public sealed class PaymentJob : IJobHandler<PaymentInput>
{
    public const string WaitingFor = "payment provider";
    private static readonly TimeSpan DefaultWait = TimeSpan.FromMinutes(15);

    public string Type => "payment";
    public string SubmitRoute => "/payments";

    public Task<JobOutput> Run(PaymentInput input, JobContext context, CancellationToken ct) =>
        Task.FromResult(JobOutput.WaitFor(WaitingFor, input.WaitSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultWait));
}
