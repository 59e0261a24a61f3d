using System.Diagnostics;
using System.Globalization;
using EventSourced.EventStore;

namespace EventSourced.Api.Operations;

/// <summary>
/// `rebuild [name...]`: replays every event through the named projections (all of them when none is
/// named) and exits. Each projection is rebuilt in one transaction: appends wait while it runs,
/// readers keep the old rows until it commits, and a failure leaves the old rows in place.
/// </summary>
public static class RebuildCommand
{
    public static async Task<int> Run(IServiceProvider services, IReadOnlyList<string> names, TextWriter output)
    {
        var store = services.GetRequiredService<PostgresEventStore>();
        var known = store.Projections.Select(p => p.Name).ToList();
        var unknown = names.Except(known).ToList();
        if (unknown.Count > 0)
        {
            await output.WriteLineAsync($"No projection is called {string.Join(", ", unknown)}. There are: {string.Join(", ", known)}.");
            return 2;
        }

        foreach (var projection in store.Projections.Where(p => names.Count == 0 || names.Contains(p.Name)))
        {
            var clock = Stopwatch.StartNew();
            var replayed = await store.Rebuild(projection);
            var seconds = clock.Elapsed.TotalSeconds;
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{projection.Name}: {replayed:N0} events replayed in {seconds:F1} s ({replayed / Math.Max(seconds, 0.001):N0} events/s)"));
        }
        return 0;
    }
}
