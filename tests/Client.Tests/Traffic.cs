using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EventSourced.TestSupport;

namespace EventSourced.Client.Tests;

/// <summary>
/// Sits between a client and the real service, as a network and a proxy would: it records every exchange, and injects
/// the faults a test asks for (an answer lost after the service sent it, a stream cut in the middle of an event, a proxy
/// that answers in the service's place). Everything else is the service's own answer. Behind nginx in front of several
/// nodes, each exchange also names the node that answered it.
/// </summary>
public sealed class Traffic() : DelegatingHandler(new SocketsHttpHandler())
{
    public sealed record Exchange(string Method, string Path, string? IdempotencyKey, string? LastEventId, string? Prefer, string? IfNoneMatch, int? Status, string? Upstream = null);

    private int _answersToLose;
    private volatile Func<HttpRequestMessage, bool> _unreachable = _ => false;
    private Func<HttpRequestMessage, bool> _loseAnswersOf = _ => false;
    private int _streamsToCut;
    private int _cutAfterEvents;

    public ConcurrentQueue<Exchange> Exchanges { get; } = new();

    /// <summary>A proxy's own answer instead of the service's, for the requests it returns one for.</summary>
    public Func<HttpRequestMessage, HttpResponseMessage?> Proxy { get; set; } = _ => null;

    /// <summary>The service gets the next <paramref name="count"/> matching requests and answers them, but the answers never arrive.</summary>
    public void LoseAnswers(int count, Func<HttpRequestMessage, bool> of)
    {
        _loseAnswersOf = of;
        _answersToLose = count;
    }

    /// <summary>Matching requests fail as a refused connection, and never reach the service, until this is called again.</summary>
    public void Unreachable(Func<HttpRequestMessage, bool> requests) => _unreachable = requests;

    /// <summary>Each of the next <paramref name="streams"/> event streams is cut in the middle of the event after the first <paramref name="afterEvents"/>.</summary>
    public void CutStreams(int streams, int afterEvents)
    {
        _cutAfterEvents = afterEvents;
        _streamsToCut = streams;
    }

    public IEnumerable<Exchange> To(string method, string pathEnd) =>
        Exchanges.Where(e => e.Method == method && e.Path.EndsWith(pathEnd, StringComparison.Ordinal));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        string? Header(string name) => request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
        void Record(int? status, string? upstream = null) => Exchanges.Enqueue(new Exchange(request.Method.Method, request.RequestUri!.AbsolutePath,
            Header("Idempotency-Key"), Header("Last-Event-ID"), Header("Prefer"), Header("If-None-Match"), status, upstream));

        if (Proxy(request) is { } proxied)
        {
            Record((int)proxied.StatusCode);
            return proxied;
        }
        if (_unreachable(request))
        {
            Record(null);
            throw new HttpRequestException("Connection refused (injected).", new IOException("refused"));
        }
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, ct);
        }
        catch
        {
            Record(null);
            throw;
        }
        // nginx lists every node it tried: the last one answered.
        Record((int)response.StatusCode, response.Headers.TryGetValues(NginxProcess.UpstreamHeader, out var tried) ? tried.Last().Split(',')[^1].Trim() : null);
        if (_loseAnswersOf(request) && Interlocked.Decrement(ref _answersToLose) >= 0)
        {
            response.Dispose();
            throw new HttpRequestException("The connection was reset after the service answered (injected).", new IOException("reset"));
        }
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream" && Interlocked.Decrement(ref _streamsToCut) >= 0)
        {
            var cut = new StreamContent(new CuttingStream(await response.Content.ReadAsStreamAsync(ct), _cutAfterEvents));
            foreach (var header in response.Content.Headers)
                cut.Headers.TryAddWithoutValidation(header.Key, header.Value);
            response.Content = cut;
        }
        return response;
    }

    /// <summary>Passes the stream's first frames (the retry field, then <paramref name="events"/> events) and a few bytes of the next, then fails as a dropped connection does.</summary>
    private sealed class CuttingStream(Stream inner, int events) : Stream
    {
        private const int BytesOfTheNextEvent = 12;
        private int _frames;
        private int _partial = -1;
        private byte _previous;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (_partial == 0)
                throw new IOException("The stream was cut in the middle of an event (injected).");
            var limit = _partial > 0 ? Math.Min(buffer.Length, _partial) : buffer.Length;
            var read = await inner.ReadAsync(buffer[..limit], ct);
            if (_partial > 0)
            {
                _partial -= read;
                return read;
            }
            for (var i = 0; i < read; i++)
            {
                var current = buffer.Span[i];
                if (current == (byte)'\n' && _previous == (byte)'\n' && ++_frames == events + 1)
                {
                    // Keep what came so far and at most a few bytes of what follows: the next read cuts.
                    var keep = Math.Min(read, i + 1 + BytesOfTheNextEvent);
                    _partial = BytesOfTheNextEvent - (keep - (i + 1));
                    return keep;
                }
                _previous = current;
            }
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>What a proxy that does not pass event streams answers: a page of its own.</summary>
    public static HttpResponseMessage ProxyPage() =>
        new(HttpStatusCode.OK) { Content = new StringContent("<html><body>Streaming is not allowed here.</body></html>", Encoding.UTF8, "text/html") };
}
