using System.Globalization;
using EventSourced.Api.Access;
using EventSourced.Api.Contract;
using EventSourced.Api.Errors;
using EventSourced.Api.Http;
using EventSourced.Api.Jobs;
using EventSourced.Api.Tenancy;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore.Notifications;
using EventSourced.Scheduling;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Wolverine.Http;
using static EventSourced.Domain.Jobs.JobCommand;

namespace EventSourced.Api.Workers;

/// <summary>
/// Work in any language: a worker outside the service claims a job over HTTP and gets a lease token;
/// with it, it reports progress, keeps the lease alive with heartbeats (which also tell it when the
/// job was cancelled), and records completion, failure or a hand-back. A wrong or expired token is a
/// 409 and appends nothing. All under /workers, apart from the tenants' routes. A worker's key belongs to one
/// tenant and names the job types it may claim: it is offered only those jobs, and another tenant's lease is not held.
/// </summary>
public static class WorkerEndpoints
{
    private static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(30);
    // A waiting claim looks again this often even without a notification: a retry falling due announces nothing.
    private static readonly TimeSpan ClaimPoll = TimeSpan.FromSeconds(1);

    [Authorize(Policy = AccessPolicies.Work)]
    [EnableRateLimiting(AccessModule.OpenStreams)]
    [WolverinePost("/workers/claims", OperationId = "ClaimWork")]
    [EndpointSummary("Claim a job to run, with a lease (a long poll with Prefer: wait=N)")]
    [RequestBody(typeof(ClaimRequest), Example = """{"types": ["scan"], "leaseSeconds": 60, "worker": "scanner-1"}""")]
    [RequestHeaders("Prefer")]
    [Responds(StatusCodes.Status200OK, typeof(ClaimedWork), Description = "A job, leased to this worker.", Example = """
        {"jobId": "0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b", "type": "scan", "input": {"fileId": "upload-7"}, "attempt": 1, "tenantId": "default", "timeoutSeconds": 300,
         "leaseToken": "0193b1c5-0000-7000-8000-000000000002", "leaseExpiresAt": "2026-12-05T09:01:00+00:00",
         "links": {"heartbeat": "https://jobs.example.com/workers/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/heartbeat", "progress": "https://jobs.example.com/workers/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/progress",
                   "complete": "https://jobs.example.com/workers/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/complete", "fail": "https://jobs.example.com/workers/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/fail", "release": "https://jobs.example.com/workers/jobs/0193b1c4-7a3e-7c1d-9a4b-5c6d7e8f9a0b/release"}}
        """)]
    [Responds(StatusCodes.Status204NoContent, Headers = ["Preference-Applied"], Description = "No job to claim (within the wait Prefer asked for).")]
    [Problems(StatusCodes.Status400BadRequest, "invalid_prefer_wait")]
    [Problems(StatusCodes.Status403Forbidden, "job_type_not_allowed")]
    public static async Task<IResult> Claim(
        HttpContext http, [FromServices] JobQueue queue, [FromServices] EventNotifications notifications, IValidator<ClaimRequest> validator,
        TimeProvider clock, CancellationToken ct)
    {
        if (!PreferWait.TryRead(http.Request, out var wait))
            return PreferWait.Invalid();
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct);
        if (problem is not null)
            return problem;
        var allowed = http.User.FindAll(AccessClaims.JobType).Select(c => c.Value).ToList();
        if (!allowed.Contains(AccessClaims.AnyJobType) && request!.Types!.Except(allowed).ToList() is { Count: > 0 } refused)
        {
            return Problems.Problem(StatusCodes.Status403Forbidden, "job_type_not_allowed", "This key may not claim these job types.",
                $"It may not claim {string.Join(", ", refused)}; it may claim {string.Join(", ", allowed)}.");
        }
        var lease = request!.LeaseSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultLease;
        var worker = request.Worker ?? $"worker@{http.Connection.RemoteIpAddress}";

        var wakeup = new WakeOnAnyAppend();
        using var subscription = notifications.Subscribe(wakeup);
        var deadline = clock.GetUtcNow() + wait;
        while (true)
        {
            if (await queue.Claim(1, request.Types!, Tenant.Of(http), worker, RequestMetadata.Actor(http), lease, ct) is [var job])
                return TypedResults.Ok(Work(job, JobLinks.For(http)));
            var remaining = deadline - clock.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                if (wait > TimeSpan.Zero)
                    http.Response.Headers["Preference-Applied"] = string.Create(CultureInfo.InvariantCulture, $"wait={(int)wait.TotalSeconds}");
                return TypedResults.NoContent();
            }
            await wakeup.Signal.Wait(remaining < ClaimPoll ? remaining : ClaimPoll, ct);
        }
    }

    private static ClaimedWork Work(ClaimedJob job, JobLinks links)
    {
        var id = job.Submitted.JobId;
        return new ClaimedWork(id, job.Submitted.Type, job.Submitted.Input, job.State.Attempt, job.TenantId, job.Submitted.CorrelationId,
            job.State.TimeoutSeconds ?? job.Submitted.TimeoutSeconds, job.Lease.Token, job.Lease.ExpiresAt,
            new WorkerLinks(Link(links, id, "heartbeat"), Link(links, id, "progress"), Link(links, id, "complete"), Link(links, id, "fail"), Link(links, id, "release")));
    }

    private static string Link(JobLinks links, Guid jobId, string action) => links.To($"/workers/jobs/{jobId}/{action}");

    [Authorize(Policy = AccessPolicies.Work)]
    [WolverinePost("/workers/jobs/{id:guid}/heartbeat", OperationId = "Heartbeat")]
    [EndpointSummary("Keep the lease alive; says whether cancellation was asked")]
    [RequestBody(typeof(HeartbeatRequest))]
    [Responds(StatusCodes.Status200OK, typeof(LeaseRenewed))]
    [Problems(StatusCodes.Status409Conflict, "lease_not_held", "lease_expired")]
    public static async Task<IResult> Heartbeat(Guid id, HttpContext http, IValidator<HeartbeatRequest> validator, [FromServices] JobLeases leases, CancellationToken ct)
    {
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct);
        if (problem is not null)
            return problem;
        var length = request!.LeaseSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        var tenant = Tenant.Of(http);
        if (await leases.Renew(id, request.LeaseToken!.Value, tenant, length, ct) is { } renewed)
            return TypedResults.Ok(new LeaseRenewed(renewed.Lease.ExpiresAt, renewed.CancellationRequested));
        return await leases.Check(id, request.LeaseToken!.Value, tenant, ct) is { Check: LeaseCheck.Expired } ? LeaseExpired() : LeaseNotHeld();
    }

    [Authorize(Policy = AccessPolicies.Work)]
    [WolverinePost("/workers/jobs/{id:guid}/progress", OperationId = "ReportProgress")]
    [EndpointSummary("Report a claimed job's progress")]
    [RequestBody(typeof(ProgressRequest), Example = """{"leaseToken": "0193b1c5-0000-7000-8000-000000000002", "percent": 50, "message": "half way"}""")]
    [Responds(StatusCodes.Status200OK, typeof(WorkerOutcome))]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "lease_not_held", "lease_expired", "attempt_superseded", "job_already_finished", "job_not_processing", "concurrent_change")]
    [Problems(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding")]
    [Problems(StatusCodes.Status409Conflict, "progress_backwards")]
    [Problems(StatusCodes.Status422UnprocessableEntity, "progress_out_of_range")]
    public static Task<IResult> Progress(Guid id, HttpContext http, IValidator<ProgressRequest> validator, [FromServices] JobLeases leases, [FromServices] JobStreams streams, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, streams, finishes: false, (request, holder) => new ReportProgress(holder.Attempt, request.Percent!.Value, request.Message), ct);

    [Authorize(Policy = AccessPolicies.Work)]
    [WolverinePost("/workers/jobs/{id:guid}/complete", OperationId = "CompleteJob")]
    [EndpointSummary("Complete a claimed job with its result")]
    [RequestBody(typeof(CompleteRequest), Example = """{"leaseToken": "0193b1c5-0000-7000-8000-000000000002", "result": {"clean": true}}""")]
    [Responds(StatusCodes.Status200OK, typeof(WorkerOutcome))]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "lease_not_held", "lease_expired", "attempt_superseded", "job_already_finished", "job_not_processing", "concurrent_change")]
    [Problems(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding")]
    public static Task<IResult> Complete(Guid id, HttpContext http, IValidator<CompleteRequest> validator, [FromServices] JobLeases leases, [FromServices] JobStreams streams, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, streams, finishes: true,
            (request, holder) => new CompleteJob(holder.Attempt, request.Result!.Value, request.ContentType ?? "application/json"), ct);

    [Authorize(Policy = AccessPolicies.Work)]
    [WolverinePost("/workers/jobs/{id:guid}/fail", OperationId = "FailAttempt")]
    [EndpointSummary("Fail the attempt: retried later, or the job fails")]
    [RequestBody(typeof(FailRequest), Example = """
        {"leaseToken": "0193b1c5-0000-7000-8000-000000000002", "errorCode": "scanner_down", "errorMessage": "The scanner did not answer.", "retryable": true}
        """)]
    [Responds(StatusCodes.Status200OK, typeof(WorkerOutcome))]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "lease_not_held", "lease_expired", "attempt_superseded", "job_already_finished", "job_not_processing", "concurrent_change")]
    [Problems(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding")]
    public static Task<IResult> Fail(Guid id, HttpContext http, IValidator<FailRequest> validator, [FromServices] JobLeases leases, [FromServices] JobStreams streams, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, streams, finishes: true,
            (request, holder) => new FailAttempt(holder.Attempt, request.ErrorCode!, request.ErrorMessage!, Random.Shared.NextDouble(), request.Retryable ?? true), ct);

    /// <summary>Give the job back unfinished, or confirm a cancellation the heartbeat announced.</summary>
    [Authorize(Policy = AccessPolicies.Work)]
    [WolverinePost("/workers/jobs/{id:guid}/release", OperationId = "ReleaseJob")]
    [EndpointSummary("Give a claimed job back unfinished, or confirm its cancellation")]
    [RequestBody(typeof(ReleaseRequest))]
    [Responds(StatusCodes.Status200OK, typeof(WorkerOutcome))]
    [Problems(StatusCodes.Status404NotFound, "job_not_found")]
    [Problems(StatusCodes.Status409Conflict, "lease_not_held", "lease_expired", "attempt_superseded", "job_already_finished", "job_not_processing", "concurrent_change")]
    [Problems(StatusCodes.Status503ServiceUnavailable, "read_model_rebuilding")]
    public static Task<IResult> Release(Guid id, HttpContext http, IValidator<ReleaseRequest> validator, [FromServices] JobLeases leases, [FromServices] JobStreams streams, CancellationToken ct) =>
        AsHolder(id, http, validator, leases, streams, finishes: true,
            (request, holder) => new ReleaseJob(holder.Attempt, request.Reason ?? $"Released by {holder.Holder}."), ct);

    /// <summary>
    /// Reads and validates the body, then, only if its token holds the job's live lease, runs the command for
    /// the job's tenant, as the lease's holder; a command that <paramref name="finishes"/> the attempt gives the lease up.
    /// </summary>
    private static async Task<IResult> AsHolder<T>(
        Guid id, HttpContext http, IValidator<T> validator, JobLeases leases, JobStreams streams, bool finishes, Func<T, LeaseHolder, JobCommand> command, CancellationToken ct)
        where T : class, IFromLeaseHolder
    {
        var (request, problem) = await JsonBody.ReadValidated(http.Request, validator, ct);
        if (problem is not null)
            return problem;
        var token = request!.LeaseToken!.Value;
        var holder = await leases.Check(id, token, Tenant.Of(http), ct);
        if (holder.Check != LeaseCheck.Held)
            return holder.Check == LeaseCheck.Expired ? LeaseExpired() : LeaseNotHeld();

        var changed = (await streams.Execute(id, holder.TenantId, command(request, holder), RequestMetadata.Of(http), ct, endingLease: finishes ? token : null)).Job;
        return TypedResults.Ok(new WorkerOutcome(JobDecider.Name(changed.State.Status), changed.State.Attempt, changed.Version, changed.State.CancellationRequested));
    }

    private static IResult LeaseNotHeld() => Problems.Problem(StatusCodes.Status409Conflict, "lease_not_held", "This token does not hold the job's lease.",
        "The token is wrong, or its attempt is over (the job finished, or was given to someone else). Stop working on it.");

    private static IResult LeaseExpired() => Problems.Problem(StatusCodes.Status409Conflict, "lease_expired", "The lease ran out.",
        "No heartbeat came in time: the attempt counts as failed and the job is retried. Stop working on it.");
}
