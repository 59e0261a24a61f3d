using System.Net;

namespace EventSourced.Client.Tests;

/// <summary>The backoff on its own: full jitter under a capped, doubling ceiling, never sooner than Retry-After; what is worth retrying.</summary>
public sealed class RetryPolicyTests
{
    private readonly RetryPolicy _policy = new() { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };

    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 200)]
    [InlineData(4, 800)]
    [InlineData(5, 1000)]
    [InlineData(40, 1000)]
    public void A_wait_is_random_between_zero_and_the_doubling_capped_ceiling(int retry, int ceilingMs)
    {
        var waits = Enumerable.Range(0, 2000).Select(_ => _policy.DelayBefore(retry).TotalMilliseconds).ToList();

        Assert.All(waits, w => Assert.InRange(w, 0, ceilingMs));
        // Spread over the whole window, not bunched at its top as "exponential plus a little jitter" would be.
        Assert.True(waits.Min() < ceilingMs * 0.1 && waits.Max() > ceilingMs * 0.9, $"{waits.Min()}..{waits.Max()} of {ceilingMs}");
    }

    [Fact]
    public void A_wait_is_never_shorter_than_the_services_Retry_After()
    {
        Assert.All(Enumerable.Range(0, 200), _ => Assert.True(_policy.DelayBefore(1, TimeSpan.FromSeconds(2)) >= TimeSpan.FromSeconds(2)));
    }

    [Theory]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.RequestTimeout, true)]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.BadGateway, true)]
    [InlineData(HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    [InlineData(HttpStatusCode.Unauthorized, false)]
    [InlineData(HttpStatusCode.NotFound, false)]
    [InlineData(HttpStatusCode.Conflict, false)]
    [InlineData(HttpStatusCode.PreconditionFailed, false)]
    [InlineData(HttpStatusCode.UnprocessableEntity, false)]
    public void Only_429_408_and_5xx_are_worth_another_try(HttpStatusCode status, bool retryable) =>
        Assert.Equal(retryable, RetryPolicy.IsRetryable(status));
}
