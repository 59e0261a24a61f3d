using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventSourced.Api.Tests;

/// <summary>
/// A callback receiver on loopback, checking signatures with its own code (not the service's), answering with the statuses
/// given in turn (<see cref="NoAnswer"/>: holds the request until the caller goes away), then 200.
/// </summary>
public sealed class CallbackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<int> _answers;
    private readonly bool _failFirstAttempts;

    public const int NoAnswer = 0;

    public sealed record Request(string MessageId, string Body, bool Signed);

    public ConcurrentQueue<Request> Requests { get; } = new();
    public string Url { get; private set; } = "";

    private CallbackReceiver(WebApplication app, IEnumerable<int> answers, bool failFirstAttempts)
    {
        _app = app;
        _answers = new ConcurrentQueue<int>(answers);
        _failFirstAttempts = failFirstAttempts;
    }

    public static Task<CallbackReceiver> Start(params int[] answers) => Start(answers, failFirstAttempts: false);

    /// <summary>A receiver that answers 500 to the first attempt of every message (by webhook-id) and 200 to the next.</summary>
    public static Task<CallbackReceiver> FailingFirstAttempts() => Start([], failFirstAttempts: true);

    private static async Task<CallbackReceiver> Start(int[] answers, bool failFirstAttempts)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var receiver = new CallbackReceiver(builder.Build(), answers, failFirstAttempts);
        receiver._app.MapPost("/hook", async (HttpContext http) =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            var headers = http.Request.Headers;
            var messageId = headers["webhook-id"].ToString();
            var firstAttempt = !receiver.Requests.Any(r => r.MessageId == messageId);
            receiver.Requests.Enqueue(new Request(messageId, body,
                IsSigned(ApiWithCallbacks.Secret, messageId, headers["webhook-timestamp"].ToString(), body, headers["webhook-signature"].ToString())));
            var status = receiver._failFirstAttempts ? (firstAttempt ? 500 : 200) : receiver._answers.TryDequeue(out var next) ? next : 200;
            if (status == NoAnswer)
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            return Results.StatusCode(status);
        });
        await receiver._app.StartAsync();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = address + "/hook";
        return receiver;
    }

    public static bool IsSigned(string secret, string id, string timestamp, string body, string signatures)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));
        return signatures.Split(' ').Contains(expected);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
