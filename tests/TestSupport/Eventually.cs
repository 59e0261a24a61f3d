namespace EventSourced.TestSupport;

public static class Eventually
{
    /// <summary>
    /// Waits for something that happens in the background (a notification, another process).
    /// The timeout only bounds a failing test; it is not what the test asserts.
    /// </summary>
    public static async Task<T> Get<T>(Func<Task<T>> read, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
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
