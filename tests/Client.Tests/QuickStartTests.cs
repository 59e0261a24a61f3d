using System.Reflection;
using System.Text.RegularExpressions;
using EventSourced.TestSupport;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace EventSourced.Client.Tests;

/// <summary>
/// The quick start of docs/clients/dotnet.md, compiled as written (a console app's top-level statements, with the implicit
/// usings of `dotnet new console`) against this build of the client, and run against the real service. Only the address
/// is changed, to the test server's; the key comes from KEY, as the page says.
/// </summary>
public sealed partial class QuickStartTests(Service service) : IClassFixture<Service>
{
    private const string Page = "docs/clients/dotnet.md";

    /// <summary>What `dotnet new console` puts in scope (ImplicitUsings for Microsoft.NET.Sdk).</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    [Fact]
    public async Task The_quick_start_compiles_as_written_and_follows_a_job_to_its_result()
    {
        var code = await CSharpBlockUnder("## Quick start", service.BaseAddress);
        var program = Assembly.Load(Compile(code));

        Environment.SetEnvironmentVariable("KEY", service.Key);
        var printed = new StringWriter();
        var console = Console.Out;
        Console.SetOut(printed);
        try
        {
            await Task.Run(() => program.EntryPoint!.Invoke(null, program.EntryPoint.GetParameters().Length == 0 ? [] : [Array.Empty<string>()])).WaitAsync(Patience.Bound);
        }
        finally
        {
            Console.SetOut(console);
        }

        var output = printed.ToString();
        Assert.Contains("queued 0%", output, StringComparison.Ordinal);
        Assert.Contains("completed 100%", output, StringComparison.Ordinal);
        Assert.Contains("movie-1.mp4", output, StringComparison.Ordinal);
    }

    /// <summary>The one C# block of the page's section under <paramref name="heading"/>, with the service's address put in for the page's.</summary>
    internal static async Task<string> CSharpBlockUnder(string heading, Uri address)
    {
        var markdown = await File.ReadAllTextAsync(Path.Combine(Repository.Root.FullName, Page));
        var start = markdown.IndexOf($"\n{heading}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{Page} has no section '{heading}'.");
        var end = markdown.IndexOf("\n## ", start + heading.Length + 2, StringComparison.Ordinal);
        var section = end < 0 ? markdown[start..] : markdown[start..end];
        return Assert.Single(CSharpBlock().Matches(section)).Groups[1].Value
            .Replace("http://127.0.0.1:5000", address.ToString().TrimEnd('/'), StringComparison.Ordinal);
    }

    /// <summary>The program's image, compiled as `dotnet new console` would with this build of the client, failing on any warning.</summary>
    internal static byte[] Compile(string code)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Append(typeof(JobsClient).Assembly.Location).Distinct().Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create("QuickStart",
            [CSharpSyntaxTree.ParseText(ImplicitUsings), CSharpSyntaxTree.ParseText(code)], references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        var problems = emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(emitted.Success && problems.Count == 0, $"The quick start of {Page} does not compile cleanly:\n{string.Join("\n", problems)}");
        return image.ToArray();
    }

    [GeneratedRegex(@"^```csharp\n(.*?)^```$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CSharpBlock();
}
