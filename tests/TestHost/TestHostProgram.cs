using EventSourced.Api;
using EventSourced.Api.JobTypes;

namespace EventSourced.TestHost;

public static class TestHostProgram
{
    public static Task<int> Main(string[] args) =>
        ApiHost.Run(args, builder => JobTypeRegistry.AddHandlersAndValidators(builder.Services, typeof(TestHostProgram).Assembly));
}
