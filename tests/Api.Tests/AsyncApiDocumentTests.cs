using System.Net;
using EventSourced.Api.Contract;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>The AsyncAPI document as the service serves it.</summary>
public sealed class AsyncApiDocumentTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    [Fact]
    public async Task The_AsyncAPI_document_is_served_to_anyone_as_kept_in_the_repository()
    {
        using var anonymous = api.Host.Server.CreateClient();
        var response = await anonymous.GetAsync(AsyncApiDocument.Route);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(AsyncApiContract.Path), await response.Content.ReadAsByteArrayAsync());
    }
}
