using System.Net.Sockets;
using System.Text;

namespace EventSourced.Benchmark;

/// <summary>
/// A bare HTTP/1.1 client on a socket of its own, for requests the server holds open (an SSE stream, a long poll):
/// as little client-side work per held request as a load generator can do.
/// </summary>
public sealed class RawConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[2048];
    private string _tail = "";

    private RawConnection(Socket socket) => _socket = socket;

    public bool Connected => _socket.Connected;

    /// <summary>A GET of <paramref name="path"/> on <paramref name="api"/>, with its credential and <paramref name="headers"/>.</summary>
    public static async Task<RawConnection> Open(ApiServer api, string path, params string[] headers)
    {
        var uri = new Uri(api.Url);
        headers = [$"{api.Credential.Name}: {api.Credential.Value}", .. headers];
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(uri.Host, uri.Port);
        var extra = string.Concat(headers.Select(h => h + "\r\n"));
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {uri.Authority}\r\n{extra}\r\n"));
        return new RawConnection(socket);
    }

    /// <summary>
    /// Reads until <paramref name="text"/> arrives (true), or the server ends the response or a minute passes (false). What
    /// arrived after it is kept for the next wait: a stream may send several awaited texts in one read.
    /// </summary>
    public async Task<bool> WaitFor(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (true)
        {
            var at = _tail.IndexOf(text, StringComparison.Ordinal);
            if (at >= 0)
            {
                _tail = _tail[(at + text.Length)..];
                return true;
            }
            if (_tail.Length > text.Length)
                _tail = _tail[^text.Length..];
            int read;
            try
            {
                read = await _socket.ReceiveAsync(_buffer, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            if (read == 0)
                return false;
            _tail += Encoding.ASCII.GetString(_buffer, 0, read);
        }
    }

    public void Dispose() => _socket.Dispose();
}
