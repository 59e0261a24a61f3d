using System.Net.Sockets;
using EventSourced.EventStore;
using EventSourced.EventStore.Notifications;
using EventSourced.Scheduling;
using JasperFx.Events.Daemon;
using Marten;
using Npgsql;
using Wolverine.Marten;

namespace EventSourced.Api.Database;

/// <summary>Start-up stops with this: one message that names the setting to fix.</summary>
public sealed class DatabaseStartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Which setting named the database, and what it said.</summary>
public sealed record DatabaseSettings(string Setting, NpgsqlConnectionStringBuilder ConnectionString)
{
    /// <summary>DATABASE_URL wins over ConnectionStrings:Postgres, as on most hosting platforms.</summary>
    public static DatabaseSettings From(IConfiguration configuration)
    {
        var (setting, value) =
            configuration["DATABASE_URL"] is { Length: > 0 } url ? ("DATABASE_URL", url)
            : configuration.GetConnectionString("Postgres") is { Length: > 0 } keywords ? ("ConnectionStrings__Postgres", keywords)
            : throw new DatabaseStartupException(
                "No database is configured: set DATABASE_URL (postgres://user:password@host:port/database) or ConnectionStrings__Postgres. "
                + "./run does this for you with a local PostgreSQL.");
        try
        {
            return new DatabaseSettings(setting, PostgresConnectionString.Parse(value));
        }
        catch (FormatException e)
        {
            throw new DatabaseStartupException(
                $"{setting} is not a valid PostgreSQL connection string (postgres://user:password@host:port/database, or Host=...;Database=...): {e.Message}", e);
        }
    }

    public string Describe() => $"{ConnectionString.Host}:{ConnectionString.Port}/{ConnectionString.Database}";
}

public static class DatabaseSetup
{
    /// <summary>
    /// One data source for Marten, Wolverine and our own SQL; Marten configured by <see cref="JobStorage"/>, and
    /// Wolverine's message storage beside it, so handlers' appends and outgoing messages share a transaction.
    /// </summary>
    public static IServiceCollection AddJobStore(this IServiceCollection services)
    {
        // Resolved when first needed, so settings a test host adds late are seen.
        services.AddSingleton(sp => DatabaseSettings.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp =>
        {
            var builder = PostgresDataSource.Builder(sp.GetRequiredService<DatabaseSettings>().ConnectionString.ConnectionString);
            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        });
        // HotCold: every node runs the daemon, one of them (the holder of an advisory lock) runs the async projections;
        // when it dies its lock goes with its connection, and another node takes over from the progress it committed.
        services.AddMarten(JobStorage.Configure).UseNpgsqlDataSource().UseLightweightSessions().IntegrateWithWolverine()
            .AddAsyncDaemon(DaemonMode.HotCold);
        services.ConfigureMarten((sp, options) => options.Logger(new ExpectedRefusals(sp.GetRequiredService<ILogger<IDocumentStore>>())));
        services.AddSingleton<JobStreams>();
        services.AddSingleton<StreamReads>();
        services.AddSingleton<FeedHorizon>();
        services.AddSingleton<EventNotifications>();
        services.AddSingleton<StreamWatchers>();
        services.AddSingleton<DatabaseStartup>();
        // Registered first, so the schema is in place before anything else starts.
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<DatabaseStartup>()));
        return services;
    }
}

/// <summary>
/// Applies the schema (Marten's tables, Wolverine's and ours, by Marten's one migration), then starts
/// listening for appends; stops start-up with a clear message when it cannot. ApiHost runs it before the
/// host starts, so a failure is that one message and not the host's stack trace; as a hosted service it
/// also runs under the test host. It runs once.
/// </summary>
public sealed class DatabaseStartup(IServiceProvider services) : IHostedService
{
    // Any number, the same in every process: the key of the advisory lock that changes to the schema take.
    private const long SchemaLock = 0x6a6f62735f736368;

    private Task? _started;

    public Task StartAsync(CancellationToken ct) => _started ??= Start(ct);

    private async Task Start(CancellationToken ct)
    {
        var settings = services.GetRequiredService<DatabaseSettings>();
        try
        {
            await ApplySchemaChanges(ct);
        }
        catch (Exception e) when (Unreachable(e))
        {
            throw new DatabaseStartupException(
                $"Cannot use the database {settings.Describe()} named by {settings.Setting}: {e.GetBaseException().Message}", e);
        }

        var notifications = services.GetRequiredService<EventNotifications>();
        notifications.Subscribe(services.GetRequiredService<StreamWatchers>());
        notifications.Start();
    }

    /// <summary>
    /// Nodes that start together on a new database would each create the same tables, and all but one would
    /// fail (Marten's migration takes no lock of its own): they wait for each other, and the later ones find
    /// nothing left to change.
    /// </summary>
    private async Task ApplySchemaChanges(CancellationToken ct)
    {
        await using var connection = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { Parameters = { new() { Value = SchemaLock } } })
            await take.ExecuteNonQueryAsync(ct);
        try
        {
            await services.GetRequiredService<IDocumentStore>().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection) { Parameters = { new() { Value = SchemaLock } } };
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static bool Unreachable(Exception e) =>
        e is NpgsqlException or SocketException or TimeoutException || (e.InnerException is { } inner && Unreachable(inner));

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
