using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventSourced.Scheduling;
using EventSourced.Domain.Jobs;
using EventSourced.EventStore;
using JasperFx.Events;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventSourced.Api.Tests;

/// <summary>The steps tests are written in.</summary>
public static class Scenarios
{
    public static Task<HttpResponseMessage> PostJson(this HttpClient client, string path, string json, string? idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }

    /// <summary>Submits a transcode job with a fresh key and returns its id.</summary>
    public static async Task<Guid> SubmitTranscode(this HttpClient client, int steps = 3, int stepMs = 10)
    {
        var response = await client.PostJson("/jobs", $$$"""{"type":"transcode","input":{"fileId":"movie","steps":{{{steps}}},"stepMs":{{{stepMs}}}}}""",
            Guid.NewGuid().ToString());
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid();
    }

    /// <summary>Moves a job on as a runner or a worker would, through the service's own command path.</summary>
    public static async Task<JobAt> Drive(this ApiFixture api, Guid jobId, JobCommand command, string tenant = Tenants.Default) =>
        (await api.Host.Services.GetRequiredService<JobStreams>().Execute(jobId, tenant, command, new EventMetadata(Actor: "test"), default)).Job;

    /// <summary>A job's events as stored, in version order.</summary>
    public static async Task<IReadOnlyList<IEvent>> Events(this ApiFixture api, Guid jobId, string tenant = Tenants.Default)
    {
        await using var session = api.Host.Services.GetRequiredService<IDocumentStore>().QuerySession(tenant);
        return await session.Events.FetchStreamAsync(jobId);
    }

    public static async Task<JsonElement> Json(this HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    public static string Str(this JsonElement json, string property) => json.GetProperty(property).ToString();
}
