using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Webhooks;

/// <summary>
/// Posts signed callbacks. The address is checked when the connection is made, on the address DNS gave at that
/// moment, so a host that resolves to a public address when the job is submitted and to an internal one later
/// (DNS rebinding) still cannot make this service call inside its network. Redirects are not followed.
/// </summary>
public sealed class CallbackSender : IDisposable
{
    private readonly HttpClient _client;
    private readonly WebhookOptions _options;

    public CallbackSender(IOptions<WebhookOptions> options)
    {
        _options = options.Value;
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = Connect,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The receiver's status code, or the reason there is none (a time-out, a refused address).</summary>
    public async Task<(int? StatusCode, string? Error)> Post(Uri url, string messageId, string[] secrets, byte[] body, DateTimeOffset now, CancellationToken ct)
    {
        var timestamp = now.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add(StandardWebhooks.IdHeader, messageId);
        request.Headers.Add(StandardWebhooks.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(StandardWebhooks.SignatureHeader, StandardWebhooks.Sign(secrets, messageId, timestamp, body));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return ((int)response.StatusCode, null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, $"no answer within {_options.Timeout.TotalSeconds} s");
        }
        catch (HttpRequestException e)
        {
            return (null, e.InnerException is ForbiddenAddress forbidden ? forbidden.Message : e.Message);
        }
    }

    private async ValueTask<Stream> Connect(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = _options.IsAllowedHost(host) ? addresses : addresses.Where(IsPublic).ToArray();
        if (allowed.Length == 0)
            throw new ForbiddenAddress($"{host} resolves to no public address ({string.Join(", ", addresses.Select(a => a.ToString()))}).");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>False for loopback, private (RFC 1918, unique local), link-local, shared (100.64/10), unspecified and multicast addresses.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast);
        var b = address.GetAddressBytes();
        return !(b[0] is 0 or 10 or >= 224
            || (b[0] == 172 && b[1] is >= 16 and <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127));
    }

    public void Dispose() => _client.Dispose();

    private sealed class ForbiddenAddress(string message) : Exception(message);
}
