using System.Globalization;
using System.Threading.RateLimiting;
using EventSourced.Api.Errors;
using Marten;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace EventSourced.Api.Access;

/// <summary>Authentication, authorization, CORS and rate limits, all through ASP.NET Core's own middleware.</summary>
public static class AccessModule
{
    /// <summary>The rate-limiter policy of routes that hold a connection open (event streams, long polls).</summary>
    public const string OpenStreams = "open-streams";

    public static IServiceCollection AddAccess(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AccessOptions>().Bind(configuration.GetSection("Access"))
            .Validate(o => o.RequestsPerSecond > 0 && o.Burst > 0 && o.MaxStreamsPerTenant > 0 && o.KeyCacheSeconds >= 0, "Access limits must be positive.")
            .Validate(o => o.StreamTokenLifetime > TimeSpan.Zero, "Access:StreamTokenLifetime must be positive.")
            .Validate(o => o.StreamTokenSecret is null || o.StreamTokenSecret.Length >= 32, "Access:StreamTokenSecret must be at least 32 characters.")
            .ValidateOnStart();
        services.AddSingleton<ApiKeys>();
        services.AddSingleton<StreamTokens>();
        // Keys are the service's, not a tenant's: one table, looked up by id whatever tenant they belong to.
        services.ConfigureMarten(marten =>
        {
            marten.Schema.For<ApiKey>().SingleTenanted().DocumentAlias("api_keys");
            marten.Schema.For<StreamTokenSecret>().SingleTenanted().DocumentAlias("stream_token_secrets");
        });

        services.AddAuthentication(AccessAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, AccessAuthentication>(AccessAuthentication.SchemeName, null);
        services.AddAuthorization(AccessPolicies.Add);
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<AccessOptions>>((cors, access) => cors.AddDefaultPolicy(policy => policy
            .WithOrigins(access.Value.CorsOrigins)
            .WithMethods("GET", "POST")
            .WithHeaders("Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "Last-Event-ID", "Prefer")
            .WithExposedHeaders("Location", "Retry-After", "ETag", "Preference-Applied", "Idempotent-Replayed", "Feed-Horizon", "WWW-Authenticate")
            .SetPreflightMaxAge(TimeSpan.FromHours(1))));
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<AccessOptions>>((limits, access) => Limit(limits, access.Value));
        return services;
    }

    private static void Limit(RateLimiterOptions limits, AccessOptions options)
    {
        // Per key (a gateway's tenant, or an address without credentials), on each node.
        limits.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartition.GetTokenBucketLimiter(
            http.User.Identity?.Name ?? $"address:{http.Connection.RemoteIpAddress}",
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.Burst,
                TokensPerPeriod = options.RequestsPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
            }));
        // Event streams always hold their connection; a job's status and a worker's claim only as long polls (Prefer: wait=N).
        limits.AddPolicy(OpenStreams, http => http.Request.Method == HttpMethods.Get && http.Request.Path.Value!.EndsWith("/events", StringComparison.Ordinal)
                || http.Request.Path.Value!.EndsWith("/events/stream", StringComparison.Ordinal)
                || http.Request.Headers["Prefer"].ToString().Contains("wait=", StringComparison.OrdinalIgnoreCase)
            ? RateLimitPartition.GetConcurrencyLimiter(http.User.FindFirst(AccessClaims.Tenant)?.Value ?? "",
                _ => new ConcurrencyLimiterOptions { PermitLimit = options.MaxStreamsPerTenant, QueueLimit = 0 })
            : RateLimitPartition.GetNoLimiter(""));
        limits.OnRejected = async (context, _) =>
        {
            var streams = !context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait);
            var seconds = streams ? 5 : Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            var http = context.HttpContext;
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            var problem = streams
                ? Problems.Problem(StatusCodes.Status429TooManyRequests, "too_many_streams", "Too many open streams.",
                    $"A tenant may hold {options.MaxStreamsPerTenant} event streams and long polls open at once on each node; close one first.")
                : Problems.Problem(StatusCodes.Status429TooManyRequests, "rate_limited", "Too many requests.",
                    $"A key may make {options.RequestsPerSecond} requests per second (bursts of {options.Burst}); retry after {seconds} s.");
            await problem.ExecuteAsync(http);
        };
    }

    /// <summary>In this order: a browser's preflight is answered before anyone is asked for credentials; limits count per key.</summary>
    public static void UseAccess(this WebApplication app)
    {
        app.UseCors();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
    }
}
