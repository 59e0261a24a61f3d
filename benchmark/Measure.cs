using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace EventSourced.Benchmark;

/// <summary>Latencies of one scenario, recorded by many workers at once.</summary>
public sealed class Latencies
{
    private readonly List<double> _milliseconds = [];
    private readonly Lock _lock = new();

    public void Add(TimeSpan elapsed)
    {
        lock (_lock)
            _milliseconds.Add(elapsed.TotalMilliseconds);
    }

    public int Count
    {
        get
        {
            lock (_lock)
                return _milliseconds.Count;
        }
    }

    public double Percentile(double p)
    {
        lock (_lock)
        {
            if (_milliseconds.Count == 0)
                return double.NaN;
            _milliseconds.Sort();
            return _milliseconds[Math.Min(_milliseconds.Count - 1, (int)Math.Ceiling(p / 100 * _milliseconds.Count) - 1)];
        }
    }
}

public static class Report
{
    /// <summary>Every figure reported so far in this run, by scenario and key.</summary>
    private static readonly ConcurrentDictionary<(string Scenario, string Key), double> Figures = new();

    /// <summary>One line per scenario, as the README and the issue ask: RESULT scenario=... key=value ...</summary>
    public static void Result(string scenario, params (string Key, object Value)[] values)
    {
        foreach (var (key, value) in values)
        {
            if (double.TryParse(Format(value), CultureInfo.InvariantCulture, out var figure))
                Figures[(scenario, key)] = figure;
        }
        var line = "RESULT scenario=" + scenario + string.Concat(values.Select(v => " " + v.Key + "=" + Format(v.Value)));
        Console.WriteLine(line);
        File.AppendAllText(Path.Combine(Environment.GetEnvironmentVariable("BENCH_OUT") ?? ".", "results.txt"), line + Environment.NewLine);
    }

    /// <summary>A figure that an earlier scenario of this run reported, to print a peer's beside it; null when that scenario did not run.</summary>
    public static double? Reported(string scenario, string key) => Figures.TryGetValue((scenario, key), out var figure) ? figure : null;

    public static string Format(object value) => value switch
    {
        double d => d.ToString(d >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    /// <summary>Resident memory of a process, in MB, from /proc.</summary>
    public static double RssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        return double.NaN;
    }

    public static double RssMb() => RssMb(Environment.ProcessId);

    public static void Say(string text) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {text}");
}

/// <summary>Runs workers in a loop for a warm-up, then for the measured time, and counts what finished in the latter.</summary>
public static class Load
{
    public static async Task<(double OpsPerSecond, Latencies Latencies)> Run(int workers, TimeSpan warmup, TimeSpan duration, Func<int, Task> operation)
    {
        var latencies = new Latencies();
        var measuring = false;
        long done = 0;
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                await operation(worker);
                if (Volatile.Read(ref measuring))
                {
                    latencies.Add(Stopwatch.GetElapsedTime(started));
                    Interlocked.Increment(ref done);
                }
            }
        })).ToList();
        await Task.Delay(warmup);
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        Volatile.Write(ref measuring, false);
        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        return (Interlocked.Read(ref done) / elapsed.TotalSeconds, latencies);
    }
}
