using System.Net;
using System.Text;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>Requests that were 500s, found by the fuzzer (FuzzTests), each now a 4xx or an answer.</summary>
public sealed class FuzzFindingsTests(ApiWithoutRunner api) : IClassFixture<ApiWithoutRunner>
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("/events?type=%00", "type")]
    [InlineData("/events?correlationId=a%00b", "correlationId")]
    [InlineData("/jobs?type=%00", "type")]
    [InlineData("/jobs?correlationId=%00", "correlationId")]
    public async Task A_filter_holding_U0000_is_400_naming_it_not_a_database_error(string url, string parameter)
    {
        var response = await _client.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Json();
        Assert.Equal("validation_failed", problem.Str("code"));
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _));
    }

    [Fact]
    public async Task A_moment_with_an_offset_is_read_as_that_moment_in_UTC()
    {
        var id = await _client.SubmitTranscode();
        var inAnHour = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToOffset(TimeSpan.FromHours(5)).ToString("O"));

        var feed = await _client.GetAsync($"/events?from={Uri.EscapeDataString("2026-01-01T00:00:00+01:00")}");
        var search = await _client.GetAsync($"/jobs?createdFrom={Uri.EscapeDataString("2000-01-01T00:00:00-05:00")}");
        var history = await _client.GetAsync($"/jobs/{id}/history?at={inAnHour}");
        var asOf = await _client.GetAsync($"/jobs/{id}?asOf={inAnHour}");
        await using var stream = await SseStream.Open(_client, $"/events/stream?from={Uri.EscapeDataString("2000-01-01T00:00:00+01:00")}");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], [feed.StatusCode, search.StatusCode, history.StatusCode, asOf.StatusCode]);
        Assert.Equal(1, (await history.Json()).GetProperty("events").GetArrayLength());
        Assert.Equal("job.submitted", (await stream.Next())?.Event);
    }

    [Fact]
    public async Task A_moment_that_is_out_of_range_in_UTC_is_400()
    {
        var response = await _client.GetAsync($"/events?from={Uri.EscapeDataString("0001-01-01T00:00:00+01:00")}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty("from", out _));
    }

    [Theory]
    [InlineData("cancel")]
    [InlineData("retry")]
    public async Task Cancelling_or_retrying_the_empty_id_is_404_like_any_job_that_does_not_exist(string action)
    {
        var response = await _client.PostAsync($"/jobs/{Guid.Empty}/{action}", null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("job_not_found", (await response.Json()).Str("code"));
    }

    [Fact]
    public async Task A_claim_naming_null_as_a_type_is_400()
    {
        var response = await _client.PostAsync("/workers/claims", new StringContent("""{"types":[null]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty("types[0]", out _));
    }

    [Theory]
    [InlineData("""{"type":"transcode","input":{"fileId":"a\udc00"}}""", "input.fileId")]
    [InlineData("""{"type":"transcode","input":{"fileId":"x"},"correlationId":"\ud800"}""", "correlationId")]
    public async Task A_string_with_a_lone_surrogate_is_400(string body, string field)
    {
        var response = await _client.PostJson("/jobs", body, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Json()).GetProperty("errors").TryGetProperty(field, out _));
    }
}
