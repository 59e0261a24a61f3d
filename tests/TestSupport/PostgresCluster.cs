using System.Diagnostics;
using Npgsql;

namespace EventSourced.TestSupport;

/// <summary>
/// A throwaway PostgreSQL cluster of a test's own, started through the repository's postgres/
/// scripts, so that a test can stop and restart its database without touching anybody else's.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    // Under /tmp, so that the postgres OS user (the server's, when tests run as root) can reach it.
    private readonly string _directory = Path.Combine("/tmp", "eventsourced-test-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly int _port = ApiProcess.FreePort();

    public string ConnectionString { get; private set; } = "";

    public static async Task<PostgresCluster> Start()
    {
        var cluster = new PostgresCluster();
        var server = (await cluster.Script("start")).Trim();
        await using (var admin = new NpgsqlConnection(server + ";Database=postgres"))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE DATABASE jobs", admin);
            await create.ExecuteNonQueryAsync();
        }
        cluster.ConnectionString = server + ";Database=jobs";
        return cluster;
    }

    public Task Stop() => Script("stop");

    public Task Restart() => Script("start");

    public async ValueTask DisposeAsync()
    {
        await Script("stop");
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<string> Script(string name)
    {
        var info = new ProcessStartInfo(Path.Combine(Repository.Root.FullName, "postgres", name))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["PG_DIR"] = _directory, ["PG_PORT"] = _port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? await output : throw new InvalidOperationException($"postgres/{name} failed:\n{await errors}");
    }
}
