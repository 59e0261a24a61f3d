using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

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
}

/// <summary>The one map from exceptions to status codes: a broken rule is never a 500.</summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var problem = exception switch
        {
            JobRuleViolation { Kind: ViolationKind.NotFound } v => Problems.Problem(StatusCodes.Status404NotFound, v.Code, "No such job.", v.Message),
            JobRuleViolation { Kind: ViolationKind.Conflict } v => Problems.Problem(StatusCodes.Status409Conflict, v.Code, "The job's state does not allow this.", v.Message),
            JobRuleViolation v => Problems.Problem(StatusCodes.Status422UnprocessableEntity, v.Code, "The values are not acceptable.", v.Message),
            // A client's If-Match named a version the job has moved past.
            WrongExpectedVersionException v => Problems.Problem(StatusCodes.Status412PreconditionFailed, "version_mismatch",
                "The job has changed since the version you sent.", $"If-Match named version {v.ExpectedVersion}; the job is at version {v.ActualVersion}.",
                new Dictionary<string, object?> { ["currentVersion"] = v.ActualVersion }),
            BadHttpRequestException b => Problems.Problem(b.StatusCode, "bad_request", "The request is not valid.", b.Message),
            // The database is away (restarting, unreachable): nothing was done, and trying again is safe.
            NpgsqlException { IsTransient: true } => Problems.Problem(StatusCodes.Status503ServiceUnavailable, "database_unavailable",
                "The database is not available.", "Nothing was changed. Try again shortly (with the same Idempotency-Key, for a submission)."),
            _ => null,
        };
        if (problem is null)
            return false;
        context.Response.StatusCode = problem.StatusCode;
        if (problem.StatusCode == StatusCodes.Status503ServiceUnavailable)
            context.Response.Headers.RetryAfter = "2";
        return await problemDetails.TryWriteAsync(new() { HttpContext = context, ProblemDetails = problem.ProblemDetails, Exception = exception });
    }
}
