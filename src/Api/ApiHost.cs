using System.Text.Json.Serialization;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Database;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs;
using EventSourced.Api.Jobs.Submit;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Operations;
using EventSourced.Api.Webhooks;
using JasperFx;
using JasperFx.CodeGeneration;
using Wolverine;
using Wolverine.Http;

namespace EventSourced.Api;

/// <summary>The service, composed. Program runs it; a host with extra job types can run it too.</summary>
public static class ApiHost
{
    public static async Task<int> Run(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // "codegen write --contentroot <folder>" writes Wolverine's handler code under the folder given (the project's,
        // not the build output). The host is built before the command runs, so the folder is the host's content root.
        if (args is ["codegen", "write", "--contentroot", var folder])
            return await Build(new WebApplicationOptions { ContentRootPath = folder }, configure).RunJasperFxCommands(["codegen", "write"]);

        // "projections ..." and "keys ..." are an operator's commands, not a server: only their --Section:Name=value words are settings.
        var command = args is [("projections" or "keys") and var name, ..] ? name : null;
        static bool IsSetting(string word) => word.StartsWith("--", StringComparison.Ordinal) && word.Contains('=', StringComparison.Ordinal);
        string[] settings = command is null ? args : [.. args.Skip(1).Where(IsSetting)];
        string[] words = command is null ? [] : [.. args.Skip(1).Where(w => !IsSetting(w))];
        try
        {
            var app = Build(new WebApplicationOptions { Args = settings }, configure);
            // Checked here, so a bad one stops start-up with its message rather than failing the first request.
            app.Services.GetRequiredService<PublicUrls>();
            await app.Services.GetRequiredService<DatabaseStartup>().StartAsync(default);
            switch (command)
            {
                case "projections":
                    return await ProjectionsCommand.Run(app.Services, words, Console.Out);
                case "keys":
                    return await KeysCommand.Run(app.Services, words, Console.Out, Console.Error);
            }
            await app.RunAsync();
            return 0;
        }
        catch (Exception e) when (e is DatabaseStartupException or StartupSettingException)
        {
            Console.Error.WriteLine($"Cannot start: {e.Message}");
            return 1;
        }
    }

    private static WebApplication Build(WebApplicationOptions options, Action<WebApplicationBuilder>? configure)
    {
        var builder = WebApplication.CreateBuilder(options);
        builder.Services.AddProblems();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestHeadersTotalSize = RequestLimits.ServerMaxHeaderBytes;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = RequestLimits.ServerMaxHeaderBytes;
            kestrel.Limits.MaxRequestLineSize = RequestLimits.ServerMaxRequestLineBytes;
        });
        builder.Services.AddSingleton(services => PublicUrls.From(services.GetRequiredService<IConfiguration>()));
        builder.Services.AddAccess(builder.Configuration);
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
            // Bodies are read by JsonBody, which takes no number as a string; said here too, so the contract's schemas say so.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        builder.Services.AddJobStore();
        builder.Services.AddJobs(builder.Configuration);
        builder.Services.AddWebhooks(builder.Configuration);
        builder.Host.UseWolverine(ConfigureWolverine);
        builder.Services.AddWolverineHttp();
        builder.Services.AddContract();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestLimits();
        app.UseAccess();
        app.MapWolverineEndpoints();
        app.MapSubmitRoutes(app.Services.GetRequiredService<JobTypeRegistry>());
        app.MapContract();
        app.MapAsyncApiDocument();
        app.MapReferencePage();
        return app;
    }

    private static void ConfigureWolverine(WolverineOptions options)
    {
        // Handlers and endpoints live here, also when a test host with extra job types is the entry assembly.
        options.ApplicationAssembly = typeof(ApiHost).Assembly;
        options.Policies.AutoApplyTransactions();
        options.CodeGeneration.TypeLoadMode = TypeLoadMode.Static;
        options.ConfigureWebhooks();
    }
}
