using EventSourced.EventStore;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace EventSourced.Api.Health;

public sealed record HealthReport(string Status, string Notifications);

public static class HealthEndpoint
{
    private static readonly TimeSpan DatabaseTimeout = TimeSpan.FromSeconds(2);

    public static void MapHealth(this IEndpointRouteBuilder app) =>
        app.MapGet("/health", Check).WithName("Health").WithTags("Operations");

    /// <summary>200 while the database answers within two seconds, 503 when it does not.</summary>
    private static async Task<Results<Ok<HealthReport>, ProblemHttpResult>> Check(
        NpgsqlDataSource dataSource, EventNotifications notifications, HttpContext context, CancellationToken ct)
    {
        context.Response.Headers.CacheControl = "no-store";
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
            return TypedResults.Problem(
                title: "The database does not answer.",
                detail: e is OperationCanceledException ? $"No answer within {DatabaseTimeout.TotalSeconds} s." : e.Message,
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
