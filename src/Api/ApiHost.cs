using System.Text.Json.Serialization;
using EventSourced.Api.Database;
using EventSourced.Api.Errors;
using EventSourced.Api.Health;
using EventSourced.Api.Jobs;

namespace EventSourced.Api;

/// <summary>The service, composed. Program runs it; a host with extra job types can run it too.</summary>
public static class ApiHost
{
    public static async Task<int> Run(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        try
        {
            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddProblemDetails();
            builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
            builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull);
            builder.Services.AddEventStore(JobsModule.EventTypes());
            builder.Services.AddJobs(builder.Configuration);
            configure?.Invoke(builder);

            var app = builder.Build();
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            app.MapHealth();
            app.MapJobs();

            await app.Services.GetRequiredService<DatabaseStartup>().StartAsync(default);
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
