using EventSourced.Api.Database;
using EventSourced.Api.Health;
using EventSourced.EventStore;

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.Services.AddProblemDetails();
    builder.Services.AddEventStore(new EventTypes());

    var app = builder.Build();
    app.UseExceptionHandler();
    app.UseStatusCodePages();
    app.MapHealth();

    await app.Services.GetRequiredService<DatabaseStartup>().StartAsync(default);
    await app.RunAsync();
    return 0;
}
catch (DatabaseStartupException e)
{
    Console.Error.WriteLine($"Cannot start: {e.Message}");
    return 1;
}

public partial class Program;
