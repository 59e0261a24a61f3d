namespace EventSourced.Api.JobTypes;

/// <summary>A job type's policy. Unset values come from <see cref="JobsOptions.Defaults"/>, then from the built-in defaults.</summary>
public sealed class JobTypeSettings
{
    /// <summary>Attempts before the job fails for good (a submission may ask for another number).</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>How long one attempt may run before its handler is cancelled and the attempt fails with "timeout".</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>The first retry's backoff window; it doubles with each failure up to <see cref="BackoffCap"/>.</summary>
    public TimeSpan? BackoffBase { get; set; }

    public TimeSpan? BackoffCap { get; set; }

    /// <summary>How many jobs of this type one node runs at once, within Runner:Concurrency. Unset: no limit of its own.</summary>
    public int? Concurrency { get; set; }

    /// <summary>Run only by external workers over HTTP: no node runs it in process. A type with no handler here must be external.</summary>
    public bool External { get; set; }
}

/// <summary>The "Jobs" configuration section.</summary>
public sealed class JobsOptions
{
    public JobTypeSettings Defaults { get; set; } = new();

    /// <summary>
    /// How long a finished job stays visible to clients (then 410 Gone), and so how long its Idempotency-Key
    /// is honoured after the job ends. Its events stay for auditors: GET /jobs/{id}/history keeps working.
    /// </summary>
    public TimeSpan ExpireAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a finished job's events stay in the auditors' view (/history, the feed) before they are archived; unset
    /// (the default): forever. At least <see cref="ExpireAfter"/>: a job is archived only after its client lost it.
    /// </summary>
    public TimeSpan? AuditRetention { get; set; }

    /// <summary>How often each node looks for jobs past their audit retention.</summary>
    public TimeSpan ArchiveEvery { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Settings by type name, e.g. Jobs:Types:transcode:MaxAttempts.</summary>
    public Dictionary<string, JobTypeSettings> Types { get; set; } = new(StringComparer.Ordinal);
}
