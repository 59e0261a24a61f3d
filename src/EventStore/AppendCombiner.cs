using System.Collections.Concurrent;

namespace EventSourced.EventStore;

/// <summary>
/// Group commit for appends: those that arrive while a write is under way go together into the next
/// one, one statement and one commit, and each caller is answered after that commit, so every append
/// is durable when its caller hears of it. A write takes at most one append per stream (a second one
/// waits for the next write), so a stream's appends keep their order. One append's refusal does not
/// fail its neighbours; and if a whole write fails (a projection throws on one append), each append is
/// tried again on its own.
/// </summary>
internal sealed class AppendCombiner(Func<IReadOnlyList<StreamAppend>, Task<IReadOnlyList<AppendOutcome>>> write, int maxBatch)
{
    private readonly ConcurrentQueue<Pending> _queue = new();
    // Appends put back for a later write (their stream was already in this one); only the writer touches it.
    private readonly Queue<Pending> _later = new();
    private int _writing;

    public Task<AppendOutcome> Append(StreamAppend append, CancellationToken ct)
    {
        var pending = new Pending(append, ct);
        _queue.Enqueue(pending);
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
            _ = Task.Run(WriteWhileQueued, CancellationToken.None);
        return pending.Completion.Task.WaitAsync(ct);
    }

    private async Task WriteWhileQueued()
    {
        while (true)
        {
            var batch = TakeBatch();
            if (batch.Count > 0)
            {
                await Write(batch);
                continue;
            }
            Volatile.Write(ref _writing, 0);
            // An append queued after the look above and before letting go would wait for nobody: take over again.
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
                return;
        }
    }

    private List<Pending> TakeBatch()
    {
        var batch = new List<Pending>();
        var streams = new HashSet<Guid>();
        var postponed = new List<Pending>();
        while (batch.Count < maxBatch && (_later.TryDequeue(out var pending) || _queue.TryDequeue(out pending)))
        {
            if (pending.Cancellation.IsCancellationRequested)
                pending.Completion.TrySetCanceled(pending.Cancellation);
            else if (streams.Add(pending.Append.StreamId))
                batch.Add(pending);
            else
                postponed.Add(pending);
        }
        foreach (var pending in postponed)
            _later.Enqueue(pending);
        return batch;
    }

    private async Task Write(List<Pending> batch)
    {
        try
        {
            // Once taken, a write is not abandoned for a caller that stopped waiting: others share it.
            var outcomes = await write([.. batch.Select(p => p.Append)]);
            for (var i = 0; i < batch.Count; i++)
                batch[i].Completion.TrySetResult(outcomes[i]);
        }
        catch (Exception) when (batch.Count > 1)
        {
            foreach (var pending in batch)
                await Write([pending]);
        }
        catch (Exception e)
        {
            batch[0].Completion.TrySetException(e);
        }
    }

    private sealed record Pending(StreamAppend Append, CancellationToken Cancellation)
    {
        public TaskCompletionSource<AppendOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
