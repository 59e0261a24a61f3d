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
        var markdown = await File.ReadAllTextAsync(Path.Combine(Repository.Root.FullName, Page));
        var code = Assert.Single(CSharpBlock().Matches(markdown)).Groups[1].Value
            .Replace("http://127.0.0.1:5000", service.BaseAddress.ToString().TrimEnd('/'), StringComparison.Ordinal);
        var program = Compile(code);

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

    private static Assembly Compile(string code)
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
        return Assembly.Load(image.ToArray());
    }

    [GeneratedRegex(@"^```csharp\n(.*?)^```$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CSharpBlock();
}
