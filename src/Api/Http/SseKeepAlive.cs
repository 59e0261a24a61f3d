using Microsoft.Extensions.Options;

namespace EventSourced.Api.Http;

public sealed class SseOptions
{
    /// <summary>How often an idle stream sends a ": keepalive" comment.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a client waits before reconnecting (the "retry:" field).</summary>
    public TimeSpan Retry { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// One timer for the keepalives of every open event stream: each tick completes the task that idle
/// streams wait on, so twenty thousand streams cost one timer rather than one each.
/// </summary>
public sealed class SseKeepAlive : IDisposable
{
    private readonly ITimer _timer;
    private TaskCompletionSource _next = NewTick();

    public SseKeepAlive(IOptions<SseOptions> options, TimeProvider clock)
    {
        var every = options.Value.KeepAlive;
        _timer = clock.CreateTimer(_ => Interlocked.Exchange(ref _next, NewTick()).SetResult(), null, every, every);
    }

    /// <summary>Completes at the next tick: an idle stream sends a keepalive then.</summary>
    public Task NextTick => Volatile.Read(ref _next).Task;

    public void Dispose() => _timer.Dispose();

    private static TaskCompletionSource NewTick() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
