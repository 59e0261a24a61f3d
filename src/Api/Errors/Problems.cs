using System.Text.Json;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Scheduling;
using JasperFx;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Errors;

/// <summary>Every error is application/problem+json with a stable, machine-readable "code".</summary>
public static class Problems
{
    public static ProblemHttpResult Problem(int status, string code, string title, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        var all = new Dictionary<string, object?>(extensions ?? new Dictionary<string, object?>()) { ["code"] = code };
        return TypedResults.Problem(title: title, detail: detail, statusCode: status, extensions: all);
    }

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request is not valid.", extensions: new Dictionary<string, object?> { ["code"] = "validation_failed" });

    public static ProblemHttpResult JobNotFound(Guid jobId) =>
        Problem(StatusCodes.Status404NotFound, "job_not_found", "No such job.", $"There is no job {jobId}.");

    /// <summary>
    /// The code of a problem answered before any endpoint of ours ran (no route, a method the route does not
    /// take, a value that does not bind): its status's reason phrase, in snake case ("method_not_allowed").
    /// </summary>
    public static string CodeFor(int status) =>
        ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase.ToLowerInvariant().Replace(' ', '_').Replace("-", "", StringComparison.Ordinal) : "error";

    public static IServiceCollection AddProblems(this IServiceCollection services)
    {
        // Before AddProblemDetails' own writer, which gives up when the Accept header leaves JSON out.
        services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        return services;
    }
}

/// <summary>
/// Writes every problem as application/problem+json, whatever the request's Accept header says, with a
/// status, a title and a code. The stock writer declines when Accept leaves JSON out, and the error then goes
/// out as text/plain, which is exactly what EventSource sends (Accept: text/event-stream); a client should get
/// a problem it can read either way.
/// </summary>
public sealed class ProblemJsonWriter(IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var response = context.HttpContext.Response;
        var problem = context.ProblemDetails;
        problem.Status ??= response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        problem.Extensions.TryAdd("code", Problems.CodeFor(problem.Status.Value));
        problem.Detail ??= RouteDetail(context.HttpContext.Request, problem.Status.Value);
        response.ContentType = "application/problem+json";
        return new ValueTask(JsonSerializer.SerializeAsync(response.Body, context.ProblemDetails, context.ProblemDetails.GetType(),
            json.Value.SerializerOptions, context.HttpContext.RequestAborted));
    }

    /// <summary>What a 404 or 405 that no endpoint wrote means: the path or the method is not one of the service's routes.</summary>
    private static string? RouteDetail(HttpRequest request, int status) => status switch
    {
        StatusCodes.Status404NotFound => $"Nothing is served at {request.Path}. The routes are listed at /openapi/v1.json (a job's id is a GUID).",
        StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}. The routes are listed at /openapi/v1.json.",
        _ => null,
    };
}

/// <summary>The one map from exceptions to status codes: a broken rule is never a 500.</summary>
/// <remarks>
/// A refusal the client caused is logged as information, in one line: an operator reads errors and stack traces as pages.
/// An exception this map does not know is left to ASP.NET Core, which logs it as an error and answers 500.
/// </remarks>
public sealed class ProblemExceptionHandler(IProblemDetailsService problemDetails, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var problem = exception switch
        {
            JobRuleViolation { Kind: ViolationKind.NotFound } v => Problems.Problem(StatusCodes.Status404NotFound, v.Code, "No such job.", v.Message),
            JobRuleViolation { Kind: ViolationKind.Conflict } v => Problems.Problem(StatusCodes.Status409Conflict, v.Code, "The job's state does not allow this.", v.Message),
            JobRuleViolation v => Problems.Problem(StatusCodes.Status422UnprocessableEntity, v.Code, "The values are not acceptable.", v.Message),
            VersionMismatch v => Problems.Problem(StatusCodes.Status412PreconditionFailed, "version_mismatch",
                "The job has changed since the version you sent.", v.Message, new Dictionary<string, object?> { ["currentVersion"] = v.Actual }),
            // Others kept changing the job while this request was decided again and again.
            ConcurrencyException => Problems.Problem(StatusCodes.Status409Conflict, "concurrent_change",
                "The job kept changing while this request was being handled.", "Nothing was changed. Read the job again and retry."),
            ReadModelRebuilding r => Problems.Problem(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding",
                "The job's status is being rebuilt.", r.Message),
            BadHttpRequestException b => Problems.Problem(b.StatusCode, "bad_request", "The request is not valid.", b.Message),
            // The database is away (restarting, unreachable): nothing was done, and trying again is safe.
            _ when GroupCommit.IsTransient(exception) => Problems.Problem(StatusCodes.Status503ServiceUnavailable, "database_unavailable",
                "The database is not available.", "Nothing was changed. Try again shortly (with the same Idempotency-Key, for a submission)."),
            _ => null,
        };
        if (problem is null)
            return false;
        var code = problem.ProblemDetails.Extensions["code"];
        if (problem.StatusCode < StatusCodes.Status500InternalServerError)
            logger.LogInformation("Refused {Method} {Path}: {StatusCode} {Code}", context.Request.Method, context.Request.Path, problem.StatusCode, code);
        else
            logger.LogWarning("Could not serve {Method} {Path}: {StatusCode} {Code}: {Reason}", context.Request.Method, context.Request.Path, problem.StatusCode, code, exception.Message);
        context.Response.StatusCode = problem.StatusCode;
        if (problem.StatusCode == StatusCodes.Status503ServiceUnavailable)
            context.Response.Headers.RetryAfter = "2";
        return await problemDetails.TryWriteAsync(new() { HttpContext = context, ProblemDetails = problem.ProblemDetails, Exception = exception });
    }
}
