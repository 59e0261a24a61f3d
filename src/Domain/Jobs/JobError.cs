namespace EventSourced.Domain.Jobs;

/// <summary>Why an attempt or a job failed: a code a program can branch on, and a message for people.</summary>
public sealed record JobError(string Code, string Message);
