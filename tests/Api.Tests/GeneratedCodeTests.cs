using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// Wolverine runs the handler code committed under src/Api/Internal/Generated (TypeLoadMode.Static: no Roslyn at
/// start-up). A change to a handler or an endpoint must come with that code written again, by ./run codegen.
/// </summary>
public sealed class GeneratedCodeTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    [Fact]
    public async Task The_committed_handler_code_is_what_Wolverine_generates_from_the_handlers_as_they_are()
    {
        var contentRoot = Directory.CreateTempSubdirectory("codegen-");
        try
        {
            var (exitCode, output) = await ApiProcess.RunCommand(
                new Dictionary<string, string?> { ["DATABASE_URL"] = db.ConnectionString }, "codegen", "write", "--contentroot", contentRoot.FullName);
            Assert.True(exitCode == 0, output);

            var generated = Files(Path.Combine(contentRoot.FullName, "Internal", "Generated"));
            var committed = Files(Path.Combine(Repository.Root.FullName, "src", "Api", "Internal", "Generated"));
            Assert.Equal(generated.Keys.Order(), committed.Keys.Order());
            foreach (var (name, code) in generated)
                Assert.True(code == committed[name], $"{name} is out of date: run ./run codegen and commit what it writes.");
        }
        finally
        {
            contentRoot.Delete(recursive: true);
        }
    }

    private static Dictionary<string, string> Files(string folder) =>
        Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllText);
}
