namespace EventSourced.Scheduling;

/// <summary>Rules for claims that hold across all nodes (section "Scheduling"): give every node the same.</summary>
public sealed class SchedulingOptions
{
    /// <summary>
    /// How many jobs of one tenant may be processing at once, all types and all nodes together; a tenant at it
    /// gets no more claimed until one finishes. Null: no cap.
    /// </summary>
    public int? MaxRunningPerTenant { get; set; }
}
