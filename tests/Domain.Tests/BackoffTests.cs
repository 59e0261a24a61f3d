using EventSourced.Domain.Jobs;

namespace EventSourced.Domain.Tests;

public sealed class BackoffTests
{
    private static readonly Backoff Backoff = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

    [Fact]
    public void The_window_doubles_with_each_failure_up_to_the_cap()
    {
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], Enumerable.Range(1, 7).Select(n => Backoff.Window(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(30), Backoff.Window(500));
    }

    [Fact]
    public void The_delay_is_drawn_from_zero_to_the_window()
    {
        Assert.Equal(TimeSpan.Zero, Backoff.Delay(3, 0));
        Assert.Equal(TimeSpan.FromSeconds(2), Backoff.Delay(3, 0.5));
        Assert.True(Backoff.Delay(3, 0.9999) < Backoff.Window(3));
    }

    [Fact]
    public void Jobs_failing_together_come_back_spread_out()
    {
        var random = new Random(42);
        var delays = Enumerable.Range(0, 100).Select(_ => Backoff.Delay(4, random.NextDouble())).ToList();
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, Backoff.Window(4)));
        Assert.True(delays.Distinct().Count() > 90);
        Assert.InRange(delays.Average(d => d.TotalSeconds), 3, 5);
    }
}
