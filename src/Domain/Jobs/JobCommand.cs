using System.Text.Json;

namespace EventSourced.Domain.Jobs;

/// <summary>What can be asked of a job. A closed hierarchy, like the events.</summary>
public abstract record JobCommand
{
    private JobCommand()
    {
    }

    public sealed record SubmitJob(
        Guid JobId,
        string Type,
        JsonElement Input,
        string? CallbackUrl,
        string? CorrelationId,
        string Fingerprint,
        string IdempotencyKey) : JobCommand;

    public sealed record StartJob(string Worker) : JobCommand;

    public sealed record ReportProgress(int Percent, string? Message) : JobCommand;

    public sealed record CompleteJob(JsonElement Result, string ResultContentType) : JobCommand;

    public sealed record FailJob(string ErrorCode, string ErrorMessage) : JobCommand;

    public sealed record CancelJob(string? Reason) : JobCommand;

    /// <summary>The runner stopped the work after a cancellation request.</summary>
    public sealed record ConfirmCancellation : JobCommand;
}
