using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.EventStore.Notifications;
using Microsoft.AspNetCore.Authorization;
using Npgsql;
using Wolverine.Http;

namespace EventSourced.Api.Health;

public sealed record HealthReport(string Status, string Notifications);

public static class HealthEndpoint
{
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>200 while the database answers within two seconds, 503 when it does not.</summary>
    [AllowAnonymous]
    [WolverineGet("/health", OperationId = "Health")]
    [EndpointSummary("Whether the service and its database answer")]
    [Responds(StatusCodes.Status200OK, typeof(HealthReport), Example = """{"status": "healthy", "notifications": "listening"}""")]
    public static async Task<IResult> Check(NpgsqlDataSource dataSource, EventNotifications notifications, HttpContext http, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(DatabaseTimeout);
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return TypedResults.Ok(new HealthReport("healthy", notifications.IsListening ? "listening" : "reconnecting"));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return Problems.Problem(StatusCodes.Status503ServiceUnavailable, "database_unavailable", "The database does not answer.",
                e is OperationCanceledException ? $"No answer within {DatabaseTimeout.TotalSeconds} s." : e.Message);
        }
    }
}
