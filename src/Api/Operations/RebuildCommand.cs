using System.Diagnostics;
using System.Globalization;
using EventSourced.Projections;
using Marten;
using Npgsql;

namespace EventSourced.Api.Operations;

/// <summary>
/// `rebuild [name...]`: replays every event into the named read models (all of them when none is named),
/// through Marten's daemon, and exits. Appends wait while a read model is rebuilt; reads go on.
/// </summary>
public static class RebuildCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromHours(2);

    public static async Task<int> Run(IServiceProvider services, IReadOnlyList<string> names, TextWriter output)
    {
        var unknown = names.Except(JobReadModels.Names).ToList();
        if (unknown.Count > 0)
        {
            await output.WriteLineAsync($"No projection is called {string.Join(", ", unknown)}. There are: {string.Join(", ", JobReadModels.Names)}.");
            return 2;
        }

        var store = services.GetRequiredService<IDocumentStore>();
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();
        await using var session = store.QuerySession();
        var events = await session.Events.QueryAllRawEvents().Where(e => e.AnyTenant()).CountAsync();
        foreach (var name in JobReadModels.Names.Where(n => names.Count == 0 || names.Contains(n)))
        {
            var clock = Stopwatch.StartNew();
            await JobReadModels.Rebuild(store, dataSource, name, Timeout, CancellationToken.None);
            var seconds = clock.Elapsed.TotalSeconds;
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {events:N0} events replayed in {seconds:F1} s ({events / Math.Max(seconds, 0.001):N0} events/s)"));
        }
        return 0;
    }
}
