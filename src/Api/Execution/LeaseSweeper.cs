using EventSourced.Scheduling;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Execution;

/// <summary>
/// Fails the attempts whose leases ran out (a node or an external worker died holding them), so their jobs are
/// retried. Every node sweeps, also one that runs no jobs itself: a deployment of API nodes and external workers
/// needs it just as much. Sweeps by several nodes at once skip each other's rows.
/// </summary>
public sealed class LeaseSweeper(JobQueue queue, IOptions<RunnerOptions> options, TimeProvider clock, ILogger<LeaseSweeper> logger) : BackgroundService
{
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(options.Value.LeaseDuration / 4, clock);
        try
        {
            do
            {
                try
                {
                    // A full batch means more may be waiting: sweep again at once.
                    while (await queue.ExpireLeases(BatchSize, options.Value.Worker, stopping) == BatchSize)
                    {
                    }
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning("Could not sweep expired leases: {Error}", e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
