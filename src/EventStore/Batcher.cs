using System.Collections.Concurrent;

namespace EventSourced.EventStore;

/// <summary>
/// Group execution: requests that arrive while a batch is running go together into the next one, run
/// by one call (one statement; for appends, one commit), and each caller is answered when its batch is
/// done. Under load this turns many small queries into few larger ones; when idle a request runs at
/// once, on its caller's thread, with nothing added. One batch runs at a time: measured with ./bench,
/// two at once made smaller batches and more commits, and fewer submissions per second.
/// </summary>
public sealed class Batcher<TRequest, TResult>(
    Func<IReadOnlyList<TRequest>, Task<IReadOnlyList<TResult>>> run,
    int maxBatch,
    Func<TRequest, object>? exclusiveKey = null)
{
    private readonly ConcurrentQueue<Pending> _queue = new();
    // Requests put back for a later batch (their key was already in this one); only the worker touches it.
    private readonly Queue<Pending> _later = new();
    private int _working;

    /// <summary>
    /// Runs <paramref name="request"/> in the next batch. Requests with the same <c>exclusiveKey</c>
    /// never share a batch and run in the order they came. A batch that throws fails all its requests.
    /// </summary>
    public Task<TResult> Run(TRequest request, CancellationToken ct = default)
    {
        var pending = new Pending(request, ct);
        _queue.Enqueue(pending);
        if (Interlocked.CompareExchange(ref _working, 1, 0) == 0)
            _ = WorkWhileQueued();
        return pending.Completion.Task.WaitAsync(ct);
    }

    private async Task WorkWhileQueued()
    {
        while (true)
        {
            var batch = TakeBatch();
            if (batch.Count > 0)
            {
                await RunBatch(batch);
                continue;
            }
            Volatile.Write(ref _working, 0);
            // A request queued after the look above and before letting go would wait for nobody: take over again.
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _working, 1, 0) != 0)
                return;
        }
    }

    private List<Pending> TakeBatch()
    {
        var batch = new List<Pending>();
        var keys = new HashSet<object>();
        var postponed = new List<Pending>();
        while (batch.Count < maxBatch && (_later.TryDequeue(out var pending) || _queue.TryDequeue(out pending)))
        {
            if (pending.Cancellation.IsCancellationRequested)
                pending.Completion.TrySetCanceled(pending.Cancellation);
            else if (exclusiveKey is null || keys.Add(exclusiveKey(pending.Request)))
                batch.Add(pending);
            else
                postponed.Add(pending);
        }
        foreach (var pending in postponed)
            _later.Enqueue(pending);
        return batch;
    }

    private async Task RunBatch(List<Pending> batch)
    {
        try
        {
            // Once taken, a batch is not abandoned for a caller that stopped waiting: others share it.
            var results = await run([.. batch.Select(p => p.Request)]);
            for (var i = 0; i < batch.Count; i++)
                batch[i].Completion.TrySetResult(results[i]);
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
                pending.Completion.TrySetException(e);
        }
    }

    private sealed record Pending(TRequest Request, CancellationToken Cancellation)
    {
        public TaskCompletionSource<TResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
