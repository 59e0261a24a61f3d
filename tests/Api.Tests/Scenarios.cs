using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventSourced.Api.Jobs;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using Microsoft.Extensions.DependencyInjection;

namespace EventSourced.Api.Tests;

/// <summary>The steps tests are written in.</summary>
public static class Scenarios
{
    public static readonly Backoff NoBackoff = new(TimeSpan.Zero, TimeSpan.Zero);

    public static Task<HttpResponseMessage> PostJson(this HttpClient client, string path, string json, string? idempotencyKey, string? tenant = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (tenant is not null)
            request.Headers.Add("X-Tenant-Id", tenant);
        return client.SendAsync(request);
    }

    /// <summary>Submits a transcode job with a fresh key and returns its id.</summary>
    public static async Task<Guid> SubmitTranscode(this HttpClient client, int steps = 3, int stepMs = 10, string? tenant = null)
    {
        var response = await client.PostJson("/jobs", $$$"""{"type":"transcode","input":{"fileId":"movie","steps":{{{steps}}},"stepMs":{{{stepMs}}}}}""",
            Guid.NewGuid().ToString(), tenant);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid();
    }

    /// <summary>Moves a job on as a runner would, through the same command path.</summary>
    public static Task<JobSnapshot> Drive(this ApiFactory api, Guid jobId, JobCommand command) =>
        api.Services.GetRequiredService<JobCommands>().Execute(jobId, command, new EventMetadata(Actor: "test"));

    public static async Task<JsonElement> Json(this HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    public static string Str(this JsonElement json, string property) => json.GetProperty(property).ToString();
}
