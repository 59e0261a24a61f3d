using EventSourced.Benchmark;

var settings = BenchSettings.FromEnvironment(args);
if (settings.Runs("append"))
    await AppendScenarios.Run(settings);
if (settings.Runs("submit") || settings.Runs("status"))
    await HttpScenarios.Run(settings);
if (settings.Runs("sse"))
    await SseScenarios.Run(settings);
if (settings.Runs("rebuild"))
    await RebuildScenario.Run(settings);
