using System.Text.Json;

namespace EventSourced.Api.JobTypes;

/// <summary>
/// A kind of work. Implement <see cref="IJobHandler{TInput}"/> and an AbstractValidator for its
/// input, anywhere in this assembly: both are found at start-up, nothing else needs to change.
/// </summary>
public interface IJobHandler
{
    /// <summary>The name clients submit it by ("transcode").</summary>
    string Type { get; }

    /// <summary>Its own submit route, whose body is the input alone ("/transcodes"); null for none.</summary>
    string? SubmitRoute => null;
}

public interface IJobHandler<in TInput> : IJobHandler where TInput : class
{
    /// <summary>
    /// Does the work. Report progress through <paramref name="context"/>; stop when
    /// <paramref name="ct"/> fires (the job was cancelled, or the node is shutting down).
    /// Throwing fails the job.
    /// </summary>
    Task<JobOutput> Run(TInput input, JobContext context, CancellationToken ct);
}

/// <summary>
/// What a job produced: JSON, or text of another content type. Or, from <see cref="WaitFor"/>, no result yet: the outcome
/// will come from outside (a provider's webhook), and the job waits for it without holding a runner.
/// </summary>
public sealed record JobOutput(JsonElement Result, string ContentType)
{
    /// <summary>Who the job now waits for, and how long; null when the job is done.</summary>
    public (string Party, TimeSpan Timeout)? Wait { get; private init; }

    public static JobOutput Json<T>(T value) => new(JsonSerializer.SerializeToElement(value, JsonSerializerOptions.Web), "application/json");

    public static JobOutput Text(string text, string contentType) => new(JsonSerializer.SerializeToElement(text), contentType);

    /// <summary>
    /// The job is suspended until <paramref name="party"/> reports its outcome through POST /webhooks/{provider}, or fails
    /// after <paramref name="timeout"/> ("wait_timed_out", not retried).
    /// </summary>
    public static JobOutput WaitFor(string party, TimeSpan timeout) => new(default, "") { Wait = (party, timeout) };
}
