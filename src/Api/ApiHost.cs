using System.Text.Json.Serialization;
using EventSourced.Api.Database;
using EventSourced.Api.Errors;
using EventSourced.Api.Health;
using EventSourced.Api.Jobs;
using EventSourced.Api.Operations;
using EventSourced.Projections;

namespace EventSourced.Api;

/// <summary>The service, composed. Program runs it; a host with extra job types can run it too.</summary>
public static class ApiHost
{
    public static async Task<int> Run(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // "rebuild [name...]" is an operator's command, not a server: its names are not settings.
        var rebuild = args is ["rebuild", ..];
        var settings = rebuild ? args[1..].Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToArray() : args;
        try
        {
            var builder = WebApplication.CreateBuilder(settings);
            builder.Services.AddProblemDetails();
            builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
            builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull);
            builder.Services.AddEventStore(JobReadModels.EventTypes());
            builder.Services.AddJobs(builder.Configuration);
            configure?.Invoke(builder);

            var app = builder.Build();
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            app.MapHealth();
            app.MapJobs();

            await app.Services.GetRequiredService<DatabaseStartup>().StartAsync(default);
            if (rebuild)
                return await RebuildCommand.Run(app.Services, [.. args[1..].Except(settings)], Console.Out);
            await app.RunAsync();
            return 0;
        }
        catch (DatabaseStartupException e)
        {
            Console.Error.WriteLine($"Cannot start: {e.Message}");
            return 1;
        }
    }
}
