using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs;
using EventSourced.Api.JobTypes;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using EventSourced.Projections.Jobs;
using FluentValidation;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Workers;

/// <summary>
/// Work in any language: a worker outside the service claims a job over HTTP and gets a lease token;
/// with it, it reports progress, keeps the lease alive with heartbeats (which also tell it when the
/// job was cancelled), and records completion, failure or a hand-back. A wrong or expired token is a
/// 409 and appends nothing.
/// </summary>
public static class WorkerEndpoints
{
    public const int MaxWaitSeconds = 60;
    private static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(30);
    // A waiting claim looks again this often even without a notification: a retry falling due announces nothing.
    private static readonly TimeSpan ClaimPoll = TimeSpan.FromSeconds(1);

    public static void MapWorkers(this IEndpointRouteBuilder app)
    {
        app.MapPost("/workers/claims", Claim).WithName("ClaimWork")
            .WithSummary("Claim a job: {\"types\": [...], \"leaseSeconds\"?, \"worker\"?}; 204 when none. Prefer: wait=N waits up to N s for one.");
        app.MapPost("/jobs/{id:guid}/heartbeat", Heartbeat).WithName("Heartbeat").WithSummary("Extend the lease; says whether the job was cancelled.");
        app.MapPost("/jobs/{id:guid}/progress", Progress).WithName("ReportProgress");
        app.MapPost("/jobs/{id:guid}/complete", Complete).WithName("CompleteJob");
        app.MapPost("/jobs/{id:guid}/fail", Fail).WithName("FailAttempt");
        app.MapPost("/jobs/{id:guid}/release", Release).WithName("ReleaseJob").WithSummary("Give the job back unfinished (or confirm a cancellation).");
    }

    private static async Task<IResult> Claim(
        HttpContext http, JobQueue queue, EventNotifications notifications, IValidator<ClaimRequest> validator, CancellationToken ct)
    {
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct);
        if (problem is not null)
            return problem;
        var wait = PreferredWait(http.Request);
        var lease = request!.LeaseSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultLease;
        var worker = request.Worker ?? $"worker@{http.Connection.RemoteIpAddress}";

        var wakeup = new WakeOnAnyAppend();
        using var subscription = notifications.Subscribe(wakeup);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            if (await queue.Claim(1, request.Types!, worker, lease, ct) is [var job])
                return TypedResults.Ok(Work(job));
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                if (wait > TimeSpan.Zero)
                    http.Response.Headers["Preference-Applied"] = $"wait={(int)wait.TotalSeconds}";
                return TypedResults.NoContent();
            }
            await wakeup.Signal.Wait(remaining < ClaimPoll ? remaining : ClaimPoll, ct);
        }
    }

    private static ClaimedWork Work(ClaimedJob job)
    {
        var id = job.Submitted.JobId;
        return new ClaimedWork(id, job.Submitted.Type, job.Submitted.Input, job.State.Attempt, job.TenantId, job.Submitted.CorrelationId,
            job.Submitted.TimeoutSeconds, job.Lease.Token, job.Lease.ExpiresAt,
            new WorkerLinks($"/jobs/{id}/heartbeat", $"/jobs/{id}/progress", $"/jobs/{id}/complete", $"/jobs/{id}/fail", $"/jobs/{id}/release"));
    }

    private static Task<IResult> Heartbeat(Guid id, HttpContext http, IValidator<HeartbeatRequest> validator, JobLeases leases, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, ct, async (request, _) =>
        {
            var lease = request.LeaseSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultLease;
            return await leases.Renew(id, request.LeaseToken!.Value, lease, ct) is { } renewed
                ? TypedResults.Ok(new LeaseRenewed(renewed.Lease.ExpiresAt, renewed.CancellationRequested))
                : LeaseExpired();
        });

    private static Task<IResult> Progress(Guid id, HttpContext http, IValidator<ProgressRequest> validator, JobLeases leases, JobCommands commands, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, ct, (request, holder) =>
            Execute(commands, id, _ => new ReportProgress(holder.Attempt, request.Percent!.Value, request.Message), holder, ct));

    private static Task<IResult> Complete(Guid id, HttpContext http, IValidator<CompleteRequest> validator, JobLeases leases, JobCommands commands, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, ct, (request, holder) =>
            Finish(commands, leases, id, request.LeaseToken!.Value,
                _ => new CompleteJob(holder.Attempt, request.Result!.Value, request.ContentType ?? "application/json"), holder, ct));

    private static Task<IResult> Fail(
        Guid id, HttpContext http, IValidator<FailRequest> validator, JobLeases leases, JobCommands commands, JobTypeRegistry types, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, ct, (request, holder) =>
            Finish(commands, leases, id, request.LeaseToken!.Value, job => new FailAttempt(holder.Attempt, request.ErrorCode!, request.ErrorMessage!,
                types.BackoffFor(job.Type), Random.Shared.NextDouble(), request.Retryable ?? true), holder, ct));

    private static Task<IResult> Release(Guid id, HttpContext http, IValidator<ReleaseRequest> validator, JobLeases leases, JobCommands commands, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, ct, (request, holder) =>
            Finish(commands, leases, id, request.LeaseToken!.Value,
                _ => new ReleaseJob(holder.Attempt, request.Reason ?? $"Released by {holder.Name}."), holder, ct));

    private readonly record struct Holder(int Attempt, string Name);

    /// <summary>Reads and validates the body, then lets <paramref name="act"/> run only if its token holds the job's live lease.</summary>
    private static async Task<IResult> AsHolder<T>(
        Guid id, HttpContext http, IValidator<T> validator, JobLeases leases, CancellationToken ct, Func<T, Holder, Task<IResult>> act)
        where T : class, IFromLeaseHolder
    {
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct);
        if (problem is not null)
            return problem;
        var (check, attempt, holder) = await leases.Check(id, request!.LeaseToken!.Value, ct);
        return check switch
        {
            LeaseCheck.Held => await act(request, new Holder(attempt, holder)),
            LeaseCheck.Expired => LeaseExpired(),
            _ => Problems.Problem(StatusCodes.Status409Conflict, "lease_not_held", "This token does not hold the job's lease.",
                "The token is wrong, or its attempt is over (the job finished, or was given to someone else). Stop working on it."),
        };
    }

    private static async Task<IResult> Execute(JobCommands commands, Guid id, Func<Job, JobCommand> command, Holder holder, CancellationToken ct)
    {
        var after = await commands.Execute(id, command, new EventMetadata(Actor: $"worker:{holder.Name}"), ct: ct);
        return TypedResults.Ok(new WorkerOutcome(JobDecider.Name(after.State.Status), after.State.Attempt, after.Version, after.State.CancellationRequested));
    }

    /// <summary>Records the attempt's outcome, then gives up the lease: the attempt is over.</summary>
    private static async Task<IResult> Finish(
        JobCommands commands, JobLeases leases, Guid id, Guid token, Func<Job, JobCommand> command, Holder holder, CancellationToken ct)
    {
        var result = await Execute(commands, id, command, holder, ct);
        await leases.Release(id, token, CancellationToken.None);
        return result;
    }

    private static IResult LeaseExpired() => Problems.Problem(StatusCodes.Status409Conflict, "lease_expired", "The lease ran out.",
        "No heartbeat came in time: the attempt counts as failed and the job is retried. Stop working on it.");

    /// <summary>The wait=N preference (RFC 7240), at most <see cref="MaxWaitSeconds"/>; none without one.</summary>
    private static TimeSpan PreferredWait(HttpRequest request)
    {
        foreach (var preference in request.Headers["Prefer"].SelectMany(v => v!.Split([',', ';'], StringSplitOptions.TrimEntries)))
        {
            if (preference.StartsWith("wait=", StringComparison.OrdinalIgnoreCase) && int.TryParse(preference[5..], out var seconds) && seconds > 0)
                return TimeSpan.FromSeconds(Math.Min(seconds, MaxWaitSeconds));
        }
        return TimeSpan.Zero;
    }
}
