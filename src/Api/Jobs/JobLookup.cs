using EventSourced.Api.Errors;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;
using EventSourced.Projections.Jobs;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Jobs;

/// <summary>
/// A job as its client may see it: 404 when the tenant has no such job, 410 once it finished longer ago than
/// Jobs:ExpireAfter, or once archived. The job's history stays for auditors; only the client's resources go.
/// </summary>
public sealed class JobLookup(JobQueries queries, IOptions<JobsOptions> options, TimeProvider clock)
{
    public async Task<(JobStatusView? Job, IResult? Problem)> Find(Guid id, HttpContext http, CancellationToken ct)
    {
        var tenant = Tenant.Of(http);
        var view = await queries.Status(id, tenant, ct);
        if (view is null)
            return (null, await queries.IsArchived(id, tenant, ct) ? Expired(id, null, http) : Problems.JobNotFound(id));
        return IsExpired(view) ? (null, Expired(id, view.FinishedAt, http)) : (view, null);
    }

    /// <summary>410: <paramref name="finishedAt"/> is unknown once the job is archived (past the audit retention as well).</summary>
    private IResult Expired(Guid id, DateTimeOffset? finishedAt, HttpContext http) => Problems.Problem(StatusCodes.Status410Gone, "job_expired", "The job has expired.",
        $"Job {id} finished {(finishedAt is null ? "long ago" : $"at {finishedAt:O}")}; finished jobs stay available for {options.Value.ExpireAfter}. Its history is kept for auditors.",
        new Dictionary<string, object?> { ["finishedAt"] = finishedAt, ["historyUrl"] = JobLinks.For(http).History(id) });

    public bool IsExpired(JobStatusView view) => view.FinishedAt + options.Value.ExpireAfter <= clock.GetUtcNow();
}
