using System.Net;

namespace EventSourced.Client.Tests;

/// <summary>Submissions: one job per Idempotency-Key however often the client had to send it, and problems as typed exceptions.</summary>
public sealed class SubmitTests(Service service) : IClassFixture<Service>
{
    private static readonly object Input = new { fileId = "movie-1", steps = 1, stepMs = 0 };

    [Fact]
    public async Task A_submission_without_a_key_gets_one_made_by_the_client_and_each_call_is_new_work()
    {
        var traffic = new Traffic();
        var client = service.Client(traffic);

        var first = await client.SubmitAsync("transcode", Input);
        var second = await client.SubmitAsync("transcode", Input);

        Assert.NotEqual(first.Id, second.Id);
        Assert.True(Guid.TryParse(first.Accepted!.IdempotencyKey, out _));
        Assert.Equal([first.Accepted.IdempotencyKey, second.Accepted!.IdempotencyKey], traffic.To("POST", "/jobs").Select(e => e.IdempotencyKey));
        Assert.False(first.Accepted.Replayed);
    }

    [Fact]
    public async Task Submitting_the_same_key_twice_gives_the_same_job()
    {
        var client = service.Client();
        var key = $"order-{Guid.NewGuid()}";

        var first = await client.SubmitAsync("transcode", Input, new SubmitOptions { IdempotencyKey = key });
        var again = await client.SubmitAsync("transcode", Input, new SubmitOptions { IdempotencyKey = key });

        Assert.Equal(first.Id, again.Id);
        Assert.False(first.Accepted!.Replayed);
        Assert.True(again.Accepted!.Replayed);
    }

    [Fact]
    public async Task A_submission_whose_202_is_lost_after_the_service_took_it_is_sent_again_with_its_key_and_ends_with_the_same_job()
    {
        var traffic = new Traffic();
        traffic.LoseAnswers(1, of: r => r.Method == HttpMethod.Post && r.RequestUri!.AbsolutePath.EndsWith("/jobs", StringComparison.Ordinal));
        var client = service.Client(traffic);
        var correlationId = $"lost-202-{Guid.NewGuid()}";

        var job = await client.SubmitAsync("transcode", Input, new SubmitOptions { CorrelationId = correlationId });

        var posts = traffic.To("POST", "/jobs").ToList();
        Assert.Equal([202, 202], posts.Select(p => p.Status));
        Assert.Single(posts.Select(p => p.IdempotencyKey).Distinct());
        Assert.True(job.Accepted!.Replayed);
        // The service's own count: one job carries this submission.
        var search = await service.Http().GetStringAsync($"/jobs?correlationId={correlationId}");
        Assert.Single(System.Text.Json.JsonDocument.Parse(search).RootElement.GetProperty("jobs").EnumerateArray());
    }

    [Fact]
    public async Task A_key_reused_for_other_work_is_a_typed_422_naming_the_existing_job_and_is_not_retried()
    {
        var traffic = new Traffic();
        var client = service.Client(traffic);
        var key = $"order-{Guid.NewGuid()}";
        var first = await client.SubmitAsync("transcode", Input, new SubmitOptions { IdempotencyKey = key });

        var reused = await Assert.ThrowsAsync<IdempotencyKeyReusedException>(() =>
            client.SubmitAsync("transcode", new { fileId = "another-movie" }, new SubmitOptions { IdempotencyKey = key }));

        Assert.Equal(first.Id, reused.ExistingJobId);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.Status);
        Assert.Equal("idempotency_key_reused", reused.Code);
        Assert.NotNull(reused.Detail);
        Assert.Equal([202, 422], traffic.To("POST", "/jobs").Select(e => e.Status));
    }

    [Fact]
    public async Task An_invalid_submission_is_a_problem_with_its_code_and_is_sent_once()
    {
        var traffic = new Traffic();
        var client = service.Client(traffic);

        var problem = await Assert.ThrowsAsync<JobsApiException>(() => client.SubmitAsync("transcode", new { fileId = "movie-1", steps = 1000 }));

        Assert.Equal(HttpStatusCode.BadRequest, problem.Status);
        Assert.Equal("validation_failed", problem.Code);
        Assert.True(problem.Problem!.Value.GetProperty("errors").TryGetProperty("input.steps", out _), problem.Problem.Value.ToString());
        Assert.Single(traffic.To("POST", "/jobs"));
    }

    [Fact]
    public async Task A_job_rebuilt_from_its_id_alone_reads_the_same_job()
    {
        var submitted = await service.Client().SubmitAsync("transcode", Input);

        var rebuilt = service.Client().Job(submitted.Id);
        var state = await rebuilt.WaitForCompletionAsync();

        Assert.Equal(submitted.Id, state.JobId);
        Assert.Equal(JobStatuses.Completed, state.Status);
        Assert.Null(rebuilt.Accepted);
    }
}
