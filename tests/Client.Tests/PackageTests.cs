namespace EventSourced.Client.Tests;

/// <summary>The package brings nothing into an app but itself: it speaks HTTP only, on the runtime's own libraries.</summary>
public sealed class PackageTests
{
    [Fact]
    public void The_client_references_no_assembly_but_the_runtimes()
    {
        var references = typeof(JobsClient).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.All(references, name => Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name == "netstandard", $"The client references {name}."));
        Assert.Contains("System.Net.ServerSentEvents", references);
    }
}
