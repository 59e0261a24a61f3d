namespace EventSourced.EventStore;

/// <summary>
/// How often a writer decides again when a job's stream moved under it (a runner's report, a client's command and the
/// callback records of the same job race for its next version). Each try reads the job afresh, so every writer that
/// loses a race makes progress on the next; the limit only ends a fight that something keeps winning, as a 409.
/// </summary>
public static class Conflicts
{
    public const int MaxRetries = 20;
}
