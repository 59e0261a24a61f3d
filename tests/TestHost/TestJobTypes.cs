using EventSourced.Api.JobTypes;
using FluentValidation;

namespace EventSourced.TestHost;

public sealed record FlakyInput(int FailAttempts);

public sealed class FlakyInputValidator : AbstractValidator<FlakyInput>
{
    public FlakyInputValidator() => RuleFor(i => i.FailAttempts).GreaterThanOrEqualTo(0);
}

/// <summary>Throws on its first <see cref="FlakyInput.FailAttempts"/> attempts, then completes.</summary>
public sealed class FlakyJob : IJobHandler<FlakyInput>
{
    public string Type => "flaky";

    public Task<JobOutput> Run(FlakyInput input, JobContext context, CancellationToken ct) =>
        context.Attempt <= input.FailAttempts
            ? throw new InvalidOperationException($"Attempt {context.Attempt} fails, as asked.")
            : Task.FromResult(JobOutput.Json(new { context.Attempt }));
}

public sealed record HangInput;

public sealed class HangInputValidator : AbstractValidator<HangInput>;

/// <summary>Never finishes on its own: only its token (a time-out, a cancellation, a shutdown) stops it.</summary>
public sealed class HangJob : IJobHandler<HangInput>
{
    public string Type => "hang";

    public async Task<JobOutput> Run(HangInput input, JobContext context, CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        return JobOutput.Json(new { });
    }
}
