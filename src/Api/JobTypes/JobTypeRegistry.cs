using System.Reflection;
using System.Text.Json;
using EventSourced.Api.Http;
using EventSourced.Domain.Jobs;
using FluentValidation;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.JobTypes;

/// <summary>A job type as the service uses it, whatever its input type.</summary>
public sealed class JobType
{
    public required string Name { get; init; }
    public string? SubmitRoute { get; init; }

    /// <summary>The input's type, for the contract; null for a type only external workers run (its input is any JSON object).</summary>
    public Type? InputType { get; init; }

    /// <summary>Reads the input strictly (unknown fields and wrong types are errors), then validates it. Errors are keyed "input.field".</summary>
    /// <summary>The errors of an input, keyed by their paths under the input's own (the path of the input in the body: "input", or "" when it is the body).</summary>
    public required Func<JsonElement, string, CancellationToken, Task<Dictionary<string, string[]>>> ValidateInput { get; init; }

    /// <summary>The in-process handler; null for a type only external workers run.</summary>
    public Func<JsonElement, JobContext, CancellationToken, Task<JobOutput>>? Run { get; init; }

    public int MaxAttempts { get; init; }
    public TimeSpan Timeout { get; init; }
    public required Backoff Backoff { get; init; }
    public int? Concurrency { get; init; }

    public bool RunsInProcess => Run is not null;
}

/// <summary>Every job type, by name: the handlers and validators found in this assembly, and the external types configured.</summary>
public sealed class JobTypeRegistry
{
    private static readonly JobTypeSettings BuiltInDefaults = new()
    {
        MaxAttempts = 3,
        Timeout = TimeSpan.FromMinutes(5),
        BackoffBase = TimeSpan.FromSeconds(1),
        BackoffCap = TimeSpan.FromMinutes(5),
    };

    private readonly Dictionary<string, JobType> _types;

    public JobTypeRegistry(IEnumerable<IJobHandler> handlers, IServiceProvider services, IOptions<JobsOptions> options)
    {
        var settings = options.Value;
        var describe = typeof(JobTypeRegistry).GetMethod(nameof(Describe), BindingFlags.NonPublic | BindingFlags.Static)!;
        _types = handlers
            .Select(handler => (JobType)describe.MakeGenericMethod(InputTypeOf(handler.GetType()))
                .Invoke(null, [handler, services, Resolve(settings, handler.Type)])!)
            .ToDictionary(t => t.Name, StringComparer.Ordinal);

        foreach (var (name, type) in settings.Types)
        {
            if (_types.ContainsKey(name))
                continue;
            if (!type.External)
            {
                throw new InvalidOperationException(
                    $"Jobs:Types:{name} is configured, but no handler runs '{name}' in this service. Set Jobs:Types:{name}:External=true if external workers run it.");
            }
            _types[name] = External(name, Resolve(settings, name));
        }
    }

    public IEnumerable<JobType> All => _types.Values;
    public IReadOnlyCollection<string> Names => _types.Keys;

    public JobType? Find(string name) => _types.GetValueOrDefault(name);

    /// <summary>Registers every job handler and every validator in <paramref name="assembly"/>.</summary>
    public static void AddHandlersAndValidators(IServiceCollection services, Assembly assembly)
    {
        foreach (var type in assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }))
        {
            if (type.IsAssignableTo(typeof(IJobHandler)))
                services.AddSingleton(typeof(IJobHandler), type);
            foreach (var validator in type.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>)))
                services.AddSingleton(validator, type);
        }
    }

    private static Type InputTypeOf(Type handler) =>
        handler.GetInterfaces().Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IJobHandler<>)).GetGenericArguments()[0];

    /// <summary>The type's own settings over the configured defaults over the built-in ones.</summary>
    private static JobTypeSettings Resolve(JobsOptions options, string name)
    {
        var own = options.Types.GetValueOrDefault(name) ?? new JobTypeSettings();
        var defaults = options.Defaults;
        return new JobTypeSettings
        {
            MaxAttempts = own.MaxAttempts ?? defaults.MaxAttempts ?? BuiltInDefaults.MaxAttempts,
            Timeout = own.Timeout ?? defaults.Timeout ?? BuiltInDefaults.Timeout,
            BackoffBase = own.BackoffBase ?? defaults.BackoffBase ?? BuiltInDefaults.BackoffBase,
            BackoffCap = own.BackoffCap ?? defaults.BackoffCap ?? BuiltInDefaults.BackoffCap,
            Concurrency = own.Concurrency ?? defaults.Concurrency,
            External = own.External,
        };
    }

    private static JobType Describe<TInput>(IJobHandler<TInput> handler, IServiceProvider services, JobTypeSettings settings) where TInput : class
    {
        var validator = services.GetService<IValidator<TInput>>()
            ?? throw new InvalidOperationException($"Job type '{handler.Type}' has no validator: add an AbstractValidator<{typeof(TInput).Name}>.");
        return new JobType
        {
            Name = handler.Type,
            SubmitRoute = handler.SubmitRoute,
            InputType = typeof(TInput),
            ValidateInput = async (json, path, ct) =>
            {
                var (input, error) = JsonBody.Deserialize<TInput>(json, path);
                if (error is not null)
                    return error;
                var result = await validator.ValidateAsync(input!, ct);
                return result.Errors
                    .GroupBy(e => JsonBody.Key(path, e.PropertyName))
                    .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray());
            },
            Run = settings.External ? null : (json, context, ct) => handler.Run(JsonSerializer.Deserialize<TInput>(json, JsonBody.Strict)!, context, ct),
            MaxAttempts = settings.MaxAttempts!.Value,
            Timeout = settings.Timeout!.Value,
            Backoff = new Backoff(settings.BackoffBase!.Value, settings.BackoffCap!.Value),
            Concurrency = settings.Concurrency,
        };
    }

    /// <summary>A type only external workers run: any JSON object is its input, the workers validate it.</summary>
    private static JobType External(string name, JobTypeSettings settings) => new()
    {
        Name = name,
        ValidateInput = (_, _, _) => Task.FromResult(new Dictionary<string, string[]>()),
        MaxAttempts = settings.MaxAttempts!.Value,
        Timeout = settings.Timeout!.Value,
        Backoff = new Backoff(settings.BackoffBase!.Value, settings.BackoffCap!.Value),
        Concurrency = settings.Concurrency,
    };
}
