namespace EventSourced.Domain.Jobs;

/// <summary>
/// Exponential backoff with full jitter: the delay before retry n is drawn uniformly from zero to
/// min(cap, base * 2^(n-1)). The jitter spreads retries of many jobs that failed together, so they
/// do not come back in step.
/// </summary>
public sealed record Backoff(TimeSpan Base, TimeSpan Cap)
{
    /// <summary>The window the delay after the <paramref name="failure"/>-th failure (1 for the first) is drawn from.</summary>
    public TimeSpan Window(int failure)
    {
        var doublings = Math.Clamp(failure - 1, 0, 62);
        var ticks = Base.Ticks * Math.Pow(2, doublings);
        return ticks >= Cap.Ticks ? Cap : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The delay after the <paramref name="failure"/>-th failure, for a <paramref name="jitter"/> from 0 (inclusive) to 1 (exclusive).</summary>
    public TimeSpan Delay(int failure, double jitter) => TimeSpan.FromTicks((long)(Window(failure).Ticks * Math.Clamp(jitter, 0, 1)));
}
