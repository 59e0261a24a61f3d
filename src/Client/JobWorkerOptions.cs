using System.Text.Json;

namespace EventSourced.Client;

/// <summary>
/// Runs one claimed job: its input, the <see cref="JobContext"/> (id, attempt, progress reports) and a token that is
/// cancelled when the job's cancellation was asked, its lease was lost, or the worker is shutting down. What it returns
/// is the job's result (any object that serializes to JSON; null completes with {}). To fail the attempt, throw: a
/// <see cref="JobFailedException"/> says whether it is worth retrying, any other exception is retried by the service.
/// </summary>
public delegate Task<object?> JobHandler(JsonElement input, JobContext job, CancellationToken ct);

/// <summary>What a <see cref="JobWorker"/> runs, where the service is, and how many jobs it runs at once.</summary>
public sealed class JobWorkerOptions
{
    private readonly Dictionary<string, JobHandler> _handlers = [];

    /// <summary>The service's address (http://127.0.0.1:5000, or with a path: https://example.com/api).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>A key with the worker role for the job types handled, sent as "Authorization: Bearer".</summary>
    public string? ApiKey { get; set; }

    /// <summary>How each request is retried (connection failures, 429, 5xx), and how the worker backs off when the service is away.</summary>
    public RetryPolicy Retry { get; set; } = new();

    /// <summary>The most jobs run at once; the worker claims another only when one of them ends.</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>The lease a claim asks for (5 s to 1 h, whole seconds). The worker renews it every third of it while the handler runs.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one claim asks the service to hold it when there is no work (Prefer: wait; up to 60 s).</summary>
    public TimeSpan ClaimWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The name the service records as the lease's holder. Unset: the machine's name and the process id.</summary>
    public string? WorkerName { get; set; }

    /// <summary>The handlers by job type; the worker claims exactly these types.</summary>
    public IReadOnlyDictionary<string, JobHandler> Handlers => _handlers;

    /// <summary>Runs jobs of <paramref name="type"/> (an external type of the service) with <paramref name="handler"/>.</summary>
    public JobWorkerOptions Handle(string type, JobHandler handler)
    {
        _handlers[type] = handler;
        return this;
    }

    /// <summary>Runs jobs of <paramref name="type"/> with <paramref name="handler"/>, their input read as <typeparamref name="TInput"/>.</summary>
    public JobWorkerOptions Handle<TInput>(string type, Func<TInput, JobContext, CancellationToken, Task<object?>> handler) =>
        Handle(type, (input, job, ct) => handler(
            input.Deserialize<TInput>(ClientJson.Options) ?? throw new JobFailedException("invalid_input", "The job's input is null.", retryable: false), job, ct));

    /// <summary>Throws for settings the service would refuse, at start-up rather than on every claim.</summary>
    internal void Validate()
    {
        if (_handlers.Count == 0)
            throw new ArgumentException("Give the worker at least one handler: options.Handle(\"type\", handler).");
        if (Concurrency < 1)
            throw new ArgumentException($"Concurrency must be 1 or more; it is {Concurrency}.");
        if (LeaseDuration < TimeSpan.FromSeconds(5) || LeaseDuration > TimeSpan.FromHours(1) || LeaseDuration.Ticks % TimeSpan.TicksPerSecond != 0)
            throw new ArgumentException($"LeaseDuration must be whole seconds from 5 s to 1 h; it is {LeaseDuration}.");
        if (ClaimWait < TimeSpan.Zero || ClaimWait > TimeSpan.FromSeconds(60))
            throw new ArgumentException($"ClaimWait must be from 0 to 60 s; it is {ClaimWait}.");
    }
}

/// <summary>The job a handler runs, and its way to report progress.</summary>
public sealed class JobContext
{
    private readonly Func<int, string?, CancellationToken, Task> _reportProgress;

    internal JobContext(ClaimedWork work, Func<int, string?, CancellationToken, Task> reportProgress)
    {
        JobId = work.JobId;
        Type = work.Type;
        Attempt = work.Attempt;
        TenantId = work.TenantId;
        CorrelationId = work.CorrelationId;
        Timeout = TimeSpan.FromSeconds(work.TimeoutSeconds);
        _reportProgress = reportProgress;
    }

    public Guid JobId { get; }
    public string Type { get; }

    /// <summary>Which try this is, from 1: a job whose earlier attempt failed (or whose worker died) comes back with the next.</summary>
    public int Attempt { get; }

    public string TenantId { get; }
    public string? CorrelationId { get; }

    /// <summary>How long the service gives an attempt.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// Records progress (0 to 100, never lower than before) and a message, which watchers of the job see as an event.
    /// When the lease turns out lost, the handler's token is cancelled and this throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task ReportProgressAsync(int percent, string? message = null, CancellationToken ct = default) => _reportProgress(percent, message, ct);
}

/// <summary>
/// Thrown by a handler to fail the attempt with an error code of its own. <paramref name="retryable"/> false fails the job
/// at once (a bad input: another try would fail the same way); true lets the service try again after its backoff, while
/// attempts remain.
/// </summary>
public sealed class JobFailedException(string errorCode, string message, bool retryable = true, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorCode { get; } = errorCode;
    public bool Retryable { get; } = retryable;
}
