using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventSourced.Api.Http;
using FluentValidation;

namespace EventSourced.Api.JobTypes;

/// <summary>A job type as the service uses it, whatever its input type.</summary>
public sealed class JobType
{
    public required string Name { get; init; }
    public string? SubmitRoute { get; init; }

    /// <summary>Reads the input strictly (unknown fields and wrong types are errors), then validates it. Errors are keyed "input.field".</summary>
    public required Func<JsonElement, CancellationToken, Task<Dictionary<string, string[]>>> ValidateInput { get; init; }

    public required Func<JsonElement, JobContext, CancellationToken, Task<JobOutput>> Run { get; init; }
}

/// <summary>Every job type, by name: the handlers and validators found in this assembly.</summary>
public sealed class JobTypeRegistry
{
    public static readonly JsonSerializerOptions InputJson = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private readonly Dictionary<string, JobType> _types;

    public JobTypeRegistry(IEnumerable<IJobHandler> handlers, IServiceProvider services)
    {
        var describe = typeof(JobTypeRegistry).GetMethod(nameof(Describe), BindingFlags.NonPublic | BindingFlags.Static)!;
        _types = handlers
            .Select(handler => (JobType)describe.MakeGenericMethod(InputTypeOf(handler.GetType())).Invoke(null, [handler, services])!)
            .ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public IEnumerable<JobType> All => _types.Values;
    public IReadOnlyCollection<string> Names => _types.Keys;

    public JobType? Find(string name) => _types.GetValueOrDefault(name);

    /// <summary>Registers every job handler and every validator in this assembly.</summary>
    public static void AddHandlersAndValidators(IServiceCollection services, Assembly assembly)
    {
        foreach (var type in assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false }))
        {
            if (type.IsAssignableTo(typeof(IJobHandler)))
                services.AddSingleton(typeof(IJobHandler), type);
            foreach (var validator in type.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>)))
                services.AddSingleton(validator, type);
        }
        services.AddSingleton<JobTypeRegistry>();
    }

    private static Type InputTypeOf(Type handler) =>
        handler.GetInterfaces().Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IJobHandler<>)).GetGenericArguments()[0];

    private static JobType Describe<TInput>(IJobHandler<TInput> handler, IServiceProvider services) where TInput : class
    {
        var validator = services.GetService<IValidator<TInput>>()
            ?? throw new InvalidOperationException($"Job type '{handler.Type}' has no validator: add an AbstractValidator<{typeof(TInput).Name}>.");

        return new JobType
        {
            Name = handler.Type,
            SubmitRoute = handler.SubmitRoute,
            ValidateInput = async (json, ct) =>
            {
                var (input, error) = JsonBody.Deserialize<TInput>(json, InputJson, "input");
                if (error is not null)
                    return error;
                var result = await validator.ValidateAsync(input!, ct);
                return result.Errors
                    .GroupBy(e => "input." + e.PropertyName)
                    .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray());
            },
            Run = (json, context, ct) => handler.Run(JsonSerializer.Deserialize<TInput>(json, InputJson)!, context, ct),
        };
    }
}
