namespace EventSourced.Api.Access;

/// <summary>What a caller may do within its tenant. A key has one role or more.</summary>
public static class Roles
{
    /// <summary>Submits, reads and cancels its tenant's jobs.</summary>
    public const string Client = "client";

    /// <summary>Claims its tenant's jobs of the types its key names, and reports on them.</summary>
    public const string Worker = "worker";

    /// <summary>Reads its tenant's histories, the global feed and statistics.</summary>
    public const string Auditor = "auditor";

    /// <summary>Dead letters and redrives, and everything a client and an auditor may read.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Client, Worker, Auditor, Admin];
}

/// <summary>The claims a caller's identity carries, whichever way it was authenticated.</summary>
public static class AccessClaims
{
    public const string Tenant = "tenant";
    public const string Role = "role";
    public const string JobType = "job_type";

    /// <summary>A worker's job type that stands for all of them.</summary>
    public const string AnyJobType = "*";

    /// <summary>The one job whose event stream a browser's stream token opens.</summary>
    public const string StreamOfJob = "stream_of_job";
}

/// <summary>The authorization policies the routes name: one per kind of work, each a set of roles.</summary>
public static class AccessPolicies
{
    public const string Submit = "submit";
    public const string ReadJobs = "read-jobs";
    public const string FollowJob = "follow-job";
    public const string Cancel = "cancel";
    public const string Work = "work";
    public const string Audit = "audit";
    public const string Administer = "administer";

    // Who may read a tenant's jobs.
    private static readonly string[] Readers = [Roles.Client, Roles.Auditor, Roles.Admin];

    public static void Add(Microsoft.AspNetCore.Authorization.AuthorizationOptions options)
    {
        options.AddPolicy(Submit, p => p.RequireRole(Roles.Client));
        options.AddPolicy(ReadJobs, p => p.RequireRole(Readers));
        options.AddPolicy(Cancel, p => p.RequireRole(Roles.Client, Roles.Admin));
        options.AddPolicy(Work, p => p.RequireRole(Roles.Worker));
        options.AddPolicy(Audit, p => p.RequireRole(Roles.Auditor, Roles.Admin));
        options.AddPolicy(Administer, p => p.RequireRole(Roles.Admin));
        // A job's events: whoever may read jobs, or a browser holding that job's stream token (and nothing else).
        options.AddPolicy(FollowJob, p => p.RequireAssertion(context =>
            Readers.Any(context.User.IsInRole)
            || (context.Resource is HttpContext http && Guid.TryParse(context.User.FindFirst(AccessClaims.StreamOfJob)?.Value, out var job)
                && Guid.TryParse(http.GetRouteValue("id")?.ToString(), out var route) && job == route)));
        // A route that names no policy still needs a caller: a new endpoint is closed until someone opens it on purpose.
        options.FallbackPolicy = new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
    }
}
