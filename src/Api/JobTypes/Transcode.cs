using FluentValidation;

namespace EventSourced.Api.JobTypes;

public sealed record TranscodeInput(string FileId, int? Steps, int? StepMs);

public sealed class TranscodeInputValidator : AbstractValidator<TranscodeInput>
{
    public TranscodeInputValidator()
    {
        RuleFor(i => i.FileId).NotEmpty().MaximumLength(200);
        RuleFor(i => i.Steps).InclusiveBetween(1, 100);
        RuleFor(i => i.StepMs).InclusiveBetween(0, 60_000);
    }
}

/// <summary>An example handler: "transcodes" a file in steps, reporting progress after each one.</summary>
public sealed class TranscodeJob : IJobHandler<TranscodeInput>
{
    public string Type => "transcode";
    public string SubmitRoute => "/transcodes";

    public async Task<JobOutput> Run(TranscodeInput input, JobContext context, CancellationToken ct)
    {
        var steps = input.Steps ?? 5;
        for (var step = 1; step <= steps; step++)
        {
            await Task.Delay(input.StepMs ?? 200, ct);
            await context.ReportProgress(step * 100 / steps, $"Transcoded segment {step} of {steps}", ct);
        }
        return JobOutput.Json(new { input.FileId, Output = $"{input.FileId}.mp4", Segments = steps });
    }
}
