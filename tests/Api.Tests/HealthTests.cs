using System.Net;

namespace EventSourced.Api.Tests;

public sealed class HealthTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Health_is_200_while_the_database_answers_and_503_while_it_does_not()
    {
        var client = api.CreateClient();
        var healthy = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal("no-store", healthy.Headers.CacheControl?.ToString());

        await api.Database.SetConnectionsAllowed(false);
        try
        {
            var down = await client.GetAsync("/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Equal("application/problem+json", down.Content.Headers.ContentType?.MediaType);
            Assert.Equal("database_unavailable", (await down.Json()).Str("code"));
        }
        finally
        {
            await api.Database.SetConnectionsAllowed(true);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
    }
}
