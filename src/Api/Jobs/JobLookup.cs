using EventSourced.Api.Errors;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;
using EventSourced.Projections.Jobs;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Jobs;

/// <summary>
/// A job as its client may see it: 404 when the tenant has no such job, 410 once it finished longer ago than
/// Jobs:ExpireAfter. The job's history stays for auditors; only the client's resources go.
/// </summary>
public sealed class JobLookup(JobQueries queries, IOptions<JobsOptions> options, TimeProvider clock)
{
    public async Task<(JobStatusView? Job, IResult? Problem)> Find(Guid id, HttpContext http, CancellationToken ct)
    {
        var view = await queries.Status(id, Tenant.Of(http), ct);
        if (view is null)
            return (null, Problems.JobNotFound(id));
        if (IsExpired(view))
        {
            return (null, Problems.Problem(StatusCodes.Status410Gone, "job_expired", "The job has expired.",
                $"Job {id} finished at {view.FinishedAt:O}; finished jobs stay available for {options.Value.ExpireAfter}. Its history is kept for auditors.",
                new Dictionary<string, object?> { ["finishedAt"] = view.FinishedAt, ["historyUrl"] = JobLinks.History(id) }));
        }
        return (view, null);
    }

    public bool IsExpired(JobStatusView view) => view.FinishedAt + options.Value.ExpireAfter <= clock.GetUtcNow();
}
