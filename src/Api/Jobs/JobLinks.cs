namespace EventSourced.Api.Jobs;

/// <summary>Where a job's resources live; relative, so they stay right behind a proxy.</summary>
public static class JobLinks
{
    public static string Status(Guid jobId) => $"/jobs/{jobId}";
    public static string Events(Guid jobId) => $"/jobs/{jobId}/events";
    public static string Result(Guid jobId) => $"/jobs/{jobId}/result";

    /// <summary>An ETag is the job's version: If-Match takes it back as the expected version.</summary>
    public static string ETag(long version) => $"\"{version}\"";
}
