using System.Text.Json;
using EventSourced.Api.Audit;
using EventSourced.Api.Execution;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs.Submit;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Retention;
using EventSourced.Projections.Jobs;
using EventSourced.Projections.Stats;
using EventSourced.Scheduling;
using FluentValidation;

namespace EventSourced.Api.Jobs;

public static class JobsModule
{
    public static IServiceCollection AddJobs(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<JobQueries>();
        services.AddSingleton<JobStatsQueries>();
        services.AddSingleton<JobLookup>();
        services.AddSingleton<JobQueue>();
        services.AddSingleton<JobLeases>();
        services.AddSingleton<JobSubmissions>();
        JobTypeRegistry.AddHandlersAndValidators(services, typeof(JobsModule).Assembly);
        services.AddSingleton<JobTypeRegistry>();
        services.AddOptions<JobsOptions>().Bind(configuration.GetSection("Jobs"))
            .Validate(o => o.AuditRetention is null || o.AuditRetention >= o.ExpireAfter, "Jobs:AuditRetention must be at least Jobs:ExpireAfter: a job is archived only after it expired.")
            .ValidateOnStart();

        services.AddOptions<SchedulingOptions>().Bind(configuration.GetSection("Scheduling"))
            .Validate(o => o.MaxRunningPerTenant is null or > 0, "Scheduling:MaxRunningPerTenant must be at least 1; leave it out for no cap.")
            .ValidateOnStart();

        services.Configure<SseOptions>(configuration.GetSection("Sse"));
        services.AddSingleton<SseKeepAlive>();
        services.Configure<AuditTailOptions>(configuration.GetSection("AuditTail"));
        services.AddSingleton<AuditTail>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditTail>());
        services.Configure<RunnerOptions>(configuration.GetSection("Runner"));
        services.AddHostedService<JobRunner>();
        services.AddHostedService<LeaseSweeper>();
        services.AddHostedService<AuditRetention>();
        // The host waits for the runner's drain, and for it to hand back what did not finish.
        var drain = configuration.GetSection("Runner").Get<RunnerOptions>()?.DrainTimeout ?? new RunnerOptions().DrainTimeout;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(10));

        // Validation errors name fields as clients write them: "fileId", not "FileId" or "File Id".
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
        return services;
    }
}
