using System.Text.Json;
using EventSourced.Domain.Jobs;

namespace EventSourced.Domain.Tests;

public sealed class IdempotencyTests
{
    [Theory]
    // Expected ids computed independently, with Python's uuid.uuid5 over the same namespace.
    [InlineData("default", "order-42", "a3f0e737-c96b-5dc9-95cc-dc082ca38051")]
    [InlineData("acme", "çà-ключ", "588ad737-90cf-5b9e-b9a5-3b45785aa183")]
    public void A_job_id_is_the_version_5_uuid_of_tenant_and_key(string tenant, string key, string expected)
    {
        Assert.Equal(Guid.Parse(expected), Idempotency.JobId(tenant, key));
    }

    [Fact]
    public void A_key_whose_job_expired_starts_the_next_generation_under_another_id()
    {
        // Computed independently: Python's uuid.uuid5 of "default\norder-42\n1".
        Assert.Equal(Guid.Parse("638911d6-8c11-5e82-ab49-9c2724d9167a"), Idempotency.JobId("default", "order-42", generation: 1));
        Assert.Equal(Idempotency.JobId("default", "order-42"), Idempotency.JobId("default", "order-42", generation: 0));
    }

    [Fact]
    public void The_same_key_in_another_tenant_is_another_job()
    {
        Assert.Equal(Idempotency.JobId("acme", "k"), Idempotency.JobId("acme", "k"));
        Assert.NotEqual(Idempotency.JobId("acme", "k"), Idempotency.JobId("globex", "k"));
        Assert.NotEqual(Idempotency.JobId("acme", "k"), Idempotency.JobId("acme", "k2"));
    }

    [Fact]
    public void Key_order_white_space_and_string_escapes_do_not_change_the_fingerprint()
    {
        var a = Fingerprint("""{"type":"report","input":{"year":2025,"reportType":"annual"}}""");
        var b = Fingerprint("""
            {
              "input": { "reportType": "ann\u0075al", "year": 2025 },
              "type":  "report"
            }
            """);
        Assert.Equal(a, b);
        Assert.Matches("^[0-9a-f]{64}$", a);
    }

    [Fact]
    public void A_different_value_or_array_order_changes_the_fingerprint()
    {
        var original = Fingerprint("""{"input":{"year":2025,"tags":["a","b"]}}""");
        Assert.NotEqual(original, Fingerprint("""{"input":{"year":2026,"tags":["a","b"]}}"""));
        Assert.NotEqual(original, Fingerprint("""{"input":{"year":2025,"tags":["b","a"]}}"""));
    }

    private static string Fingerprint(string json) => Idempotency.Fingerprint(JsonDocument.Parse(json).RootElement);
}
