namespace EventSourced.Client.Tests;

/// <summary>
/// The package brings nothing into an app but itself: it speaks HTTP on the runtime's own libraries, and its worker host
/// uses only Microsoft's hosting abstractions, which every app on the generic host or ASP.NET Core already has.
/// </summary>
public sealed class PackageTests
{
    /// <summary>The worker host's: BackgroundService, IServiceCollection, ILogger.</summary>
    private static readonly string[] HostingAbstractions =
        ["Microsoft.Extensions.Hosting.Abstractions", "Microsoft.Extensions.DependencyInjection.Abstractions", "Microsoft.Extensions.Logging.Abstractions"];

    [Fact]
    public void The_client_references_no_assembly_but_the_runtimes_and_the_hosting_abstractions()
    {
        var references = typeof(JobsClient).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        Assert.All(references, name => Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name == "netstandard" || HostingAbstractions.Contains(name),
            $"The client references {name}."));
        Assert.Contains("System.Net.ServerSentEvents", references);
    }
}
