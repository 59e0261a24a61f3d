using System.Diagnostics;
using System.Globalization;
using EventSourced.EventStore;
using EventSourced.Projections;
using EventSourced.Projections.Rebuilds;
using Marten;
using Npgsql;

namespace EventSourced.Api.Operations;

/// <summary>
/// The operator's commands on the read models, run beside the service (which keeps running):
/// `projections rebuild [name...]` builds the named read models (all when none is named) afresh from the events beside the
/// live ones and swaps them in; `projections verify [name...]` builds them into a scratch copy and compares it with the live
/// ones, row by row, exiting 0 only when they are equal.
/// </summary>
public static class ProjectionsCommand
{
    private const int DifferencesShown = 10;

    public static async Task<int> Run(IServiceProvider services, string[] args, TextWriter output)
    {
        if (args is not [("rebuild" or "verify") and var verb, .. var names])
        {
            await output.WriteLineAsync("Usage: projections rebuild [name...] | projections verify [name...]");
            return 2;
        }
        var unknown = names.Except(JobReadModels.Names).ToList();
        if (unknown.Count > 0)
        {
            await output.WriteLineAsync($"No projection is called {string.Join(", ", unknown)}. There are: {string.Join(", ", JobReadModels.Names)}.");
            return 2;
        }
        IReadOnlyList<string> chosen = names.Length == 0 ? JobReadModels.Names : names;
        var ct = CancellationToken.None;
        await using var build = await ShadowBuild.Create(services.GetRequiredService<IDocumentStore>(), services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<FeedHorizon>(), verb == "rebuild" ? "jobs_rebuild" : "jobs_verify", chosen, ct);

        var clock = Stopwatch.StartNew();
        var progress = new ProgressReport(output, !Console.IsOutputRedirected && output == Console.Out);
        await build.Prepare(progress, ct);
        var folded = progress.Last?.Done ?? 0;
        var seconds = clock.Elapsed.TotalSeconds;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{string.Join(", ", chosen)}: {folded:N0} events folded in {seconds:F1} s ({folded / Math.Max(seconds, 0.001):N0} events/s)"));

        if (verb == "rebuild")
        {
            var held = await build.TakeOver(ct);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"swapped in; appends were held for {held.TotalMilliseconds:F0} ms while the last jobs were folded and the tables swapped"));
            return 0;
        }

        var equal = true;
        foreach (var name in chosen)
        {
            var (live, rebuilt, differences) = await build.Compare(name, DifferencesShown, ct);
            equal &= differences.Count == 0;
            await output.WriteLineAsync(differences.Count == 0
                ? $"{name}: equal ({live:N0} rows live, {rebuilt:N0} rebuilt)"
                : $"{name}: DIFFERENT ({live:N0} rows live, {rebuilt:N0} rebuilt); the first differences:");
            foreach (var d in differences)
                await output.WriteLineAsync($"  tenant {d.TenantId}, job {d.Id}: live {d.LiveMd5 ?? "missing"}, rebuilt {d.RebuiltMd5 ?? "missing"}");
        }
        return equal ? 0 : 1;
    }

    /// <summary>A progress bar on a terminal (events done, rate, time left); a plain line every few seconds otherwise.</summary>
    private sealed class ProgressReport(TextWriter output, bool terminal) : IProgress<BuildProgress>
    {
        private static readonly TimeSpan LineEvery = TimeSpan.FromSeconds(2);
        private TimeSpan _lastLine;

        public BuildProgress? Last { get; private set; }

        public void Report(BuildProgress value)
        {
            Last = value;
            if (!terminal && value.Elapsed - _lastLine < LineEvery)
                return;
            _lastLine = value.Elapsed;
            var share = value.Total == 0 ? 1 : (double)value.Done / value.Total;
            var rate = value.Done / Math.Max(value.Elapsed.TotalSeconds, 0.001);
            var left = rate > 0 ? TimeSpan.FromSeconds((value.Total - value.Done) / rate) : TimeSpan.Zero;
            var text = string.Create(CultureInfo.InvariantCulture,
                $"{value.Done:N0}/{value.Total:N0} events, {rate:N0}/s, {left.TotalSeconds:F0} s left");
            if (terminal)
                output.Write($"\r[{new string('#', (int)(share * 30)),-30}] {share,4:P0} {text}   " + (value.Done >= value.Total ? "\n" : ""));
            else
                output.WriteLine(text);
        }
    }
}
