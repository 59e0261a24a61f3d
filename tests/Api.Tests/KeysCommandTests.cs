using System.Net;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>`./run keys`: an operator makes, lists and revokes keys beside the running service.</summary>
public sealed class KeysCommandTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    private Dictionary<string, string?> Settings => new() { ["DATABASE_URL"] = db.ConnectionString, ["Logging__LogLevel__Default"] = "Warning" };

    [Fact]
    public async Task A_key_made_with_repeated_options_works_is_listed_without_its_secret_and_stops_working_once_revoked()
    {
        var settings = new Dictionary<string, string?>(Settings) { ["Access__KeyCacheSeconds"] = "1" };
        await using var server = await ApiProcess.StartHealthy(settings);
        var (created, output) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "acme", "--role", "client", "--role", "auditor", "--name", "acme");
        Assert.True(created == 0, output);
        var key = output.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal));
        var id = key[4..16];
        using var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/events")).StatusCode);

        var (_, list) = await ApiProcess.RunCommand(Settings, "keys", "list");
        Assert.Contains($"{id}  tenant acme  roles client,auditor", list, StringComparison.Ordinal);
        Assert.DoesNotContain(key[17..], list, StringComparison.Ordinal);

        var (revoked, said) = await ApiProcess.RunCommand(Settings, "keys", "revoke", id);
        Assert.True(revoked == 0, said);
        await Eventually.Get(() => client.GetAsync("/events"), r => r.StatusCode == HttpStatusCode.Unauthorized, "the revoked key to be refused");
        Assert.Equal(1, (await ApiProcess.RunCommand(Settings, "keys", "revoke", "000000000000")).ExitCode);
        Assert.Equal(2, (await ApiProcess.RunCommand(Settings, "keys", "create", "--tenant", "acme", "--role", "worker")).ExitCode);
    }
}
