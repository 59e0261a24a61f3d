namespace EventSourced.TestSupport;

/// <summary>
/// How long a test waits for something before it gives up: it bounds a failing test, it is never what a test asserts.
/// Generous, because a test on a busy machine (CI, a build beside it) may wait far longer than on a quiet one.
/// </summary>
public static class Patience
{
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    /// <summary>For a server process to start: several starting at once on a loaded machine each compile and migrate.</summary>
    public static readonly TimeSpan ProcessStart = TimeSpan.FromMinutes(5);
}

public static class Eventually
{
    /// <summary>
    /// Waits for something that happens in the background (a notification, another process).
    /// The timeout only bounds a failing test; it is not what the test asserts.
    /// </summary>
    public static async Task<T> Get<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Patience.Bound);
        while (true)
        {
            var value = await read();
            if (done(value))
                return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Gave up waiting for {what}; last value: {(value is System.Collections.IEnumerable items and not string ? string.Join(", ", items.Cast<object>()) : value)}");
            await Task.Delay(25);
        }
    }
}
