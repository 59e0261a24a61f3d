namespace EventSourced.Domain.Jobs;

public enum ViolationKind
{
    /// <summary>The job's state does not allow it (cancelling a finished job): HTTP 409.</summary>
    Conflict,

    /// <summary>The values are wrong whatever the state (a percent of 120): HTTP 422.</summary>
    InvalidValue,

    /// <summary>No such job: HTTP 404.</summary>
    NotFound,
}

/// <summary>A command that breaks a rule of jobs. It appends nothing; one central map turns it into a status code.</summary>
public sealed class JobRuleViolation(ViolationKind kind, string code, string message) : Exception(message)
{
    public ViolationKind Kind { get; } = kind;

    /// <summary>A stable, machine-readable code such as "job_already_finished".</summary>
    public string Code { get; } = code;

    public static JobRuleViolation NotFound(Guid jobId) => new(ViolationKind.NotFound, "job_not_found", $"There is no job {jobId}.");
}
