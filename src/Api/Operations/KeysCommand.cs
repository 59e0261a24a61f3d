using System.Globalization;
using EventSourced.Api.Access;
using EventSourced.Api.JobTypes;
using EventSourced.Api.Tenancy;

namespace EventSourced.Api.Operations;

/// <summary>
/// The operator's commands on API keys: `keys create --tenant T --role R [--role R2] [--job-types a,b|*] [--name N]`
/// prints the new key, alone on standard output (it is stored hashed and can never be shown again);
/// `keys revoke ID` ends a key; `keys list` shows every key's id, tenant, roles and state, never a key itself.
/// </summary>
public static class KeysCommand
{
    private const string Usage = """
        Usage: keys create --tenant T --role R [--role R2 ...] [--job-types a,b|*] [--name N]
               keys revoke ID
               keys list
        Roles: client, worker (needs --job-types; * is every type), auditor, admin.
        """;

    public static async Task<int> Run(IServiceProvider services, string[] args, TextWriter output, TextWriter errors)
    {
        var keys = services.GetRequiredService<ApiKeys>();
        var ct = CancellationToken.None;
        switch (args)
        {
            case ["create", .. var options]:
                return await Create(keys, services.GetRequiredService<JobTypeRegistry>(), options, output, errors, ct);
            case ["revoke", var id]:
                if (await keys.Revoke(id, ct))
                {
                    await output.WriteLineAsync($"Revoked key {id}. Every node refuses it within {keys.CacheFor.TotalSeconds:F0} s.");
                    return 0;
                }
                await errors.WriteLineAsync($"There is no key {id}; ./run keys list shows them.");
                return 1;
            case ["list"]:
                foreach (var key in await keys.List(ct))
                {
                    var types = key.JobTypes.Count > 0 ? $" types {string.Join(",", key.JobTypes)}" : "";
                    var state = key.RevokedAt is { } revoked ? $"revoked {revoked:u}" : "active";
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{key.Id}  tenant {key.Tenant}  roles {string.Join(",", key.Roles)}{types}  created {key.CreatedAt:u}  {state}  {key.Name}"));
                }
                return 0;
            default:
                await errors.WriteLineAsync(Usage);
                return 2;
        }
    }

    private static async Task<int> Create(ApiKeys keys, JobTypeRegistry registry, string[] options, TextWriter output, TextWriter errors, CancellationToken ct)
    {
        string? tenant = null, name = null;
        List<string> roles = [], types = [];
        for (var i = 0; i < options.Length; i++)
        {
            var value = i + 1 < options.Length ? options[i + 1] : null;
            switch (options[i])
            {
                case "--tenant" when value is not null: tenant = value; i++; break;
                case "--name" when value is not null: name = value; i++; break;
                case "--role" when value is not null: roles.AddRange(value.Split(',', StringSplitOptions.TrimEntries)); i++; break;
                case "--job-types" when value is not null: types.AddRange(value.Split(',', StringSplitOptions.TrimEntries)); i++; break;
                default:
                    await errors.WriteLineAsync($"Not understood: {options[i]}\n{Usage}");
                    return 2;
            }
        }

        var problems = new List<string>();
        if (tenant is null || !Tenant.IsValid(tenant))
            problems.Add("--tenant must be 1 to 64 letters, digits, '.', '_' or '-'.");
        if (roles.Count == 0 || roles.Except(Roles.All).ToList() is { Count: > 0 })
            problems.Add($"--role must be one or more of: {string.Join(", ", Roles.All)}.");
        if (roles.Contains(Roles.Worker) && types.Count == 0)
            problems.Add("A worker key names the job types it may claim: --job-types a,b.");
        if (types.Except([.. registry.Names, AccessClaims.AnyJobType]).ToList() is { Count: > 0 } unknown)
            problems.Add($"No job type is called {string.Join(", ", unknown)}. There are: {string.Join(", ", registry.Names.Order())}.");
        if (problems.Count > 0)
        {
            await errors.WriteLineAsync(string.Join('\n', problems));
            return 2;
        }

        var created = await keys.Create(tenant!, [.. roles.Distinct()], [.. types.Distinct()], name, ct);
        await errors.WriteLineAsync($"Key {created.Stored.Id} for tenant {tenant}, roles {string.Join(",", created.Stored.Roles)}. "
            + "It is shown this once: it is stored hashed. Send it as Authorization: Bearer <key>.");
        await output.WriteLineAsync(created.Key);
        return 0;
    }
}
