using EventSourced.Benchmark;

var settings = BenchSettings.FromEnvironment(args);
if (settings.Runs("append"))
    await AppendScenarios.Run(await settings.WithFreshDatabase("bench_append"));
if (settings.Runs("submit") || settings.Runs("status") || settings.Runs("auth"))
    await HttpScenarios.Run(await settings.WithFreshDatabase("bench_http"));
if (settings.Runs("sketch"))
    await SketchScenario.Run(settings);
if (settings.Runs("sse"))
    await SseScenarios.Run(await settings.WithFreshDatabase("bench_sse"));
if (settings.Runs("longpoll"))
    await ClientPathScenarios.RunLongPolls(await settings.WithFreshDatabase("bench_longpoll"));
if (settings.Runs("callbacks"))
    await ClientPathScenarios.RunCallbacks(await settings.WithFreshDatabase("bench_callbacks"));
if (settings.Runs("search"))
    await SearchScenario.Run(await settings.WithFreshDatabase("bench_search"));
if (settings.Runs("feed"))
    await FeedScenario.Run(await settings.WithFreshDatabase("bench_feed"));
if (settings.Runs("tail"))
    await TailScenario.Run(await settings.WithFreshDatabase("bench_tail"));
if (settings.Runs("fairness"))
    await FairnessScenario.Run(await settings.WithFreshDatabase("bench_fairness"));
if (settings.Runs("jobs"))
    await JobsScenario.Run(await settings.WithFreshDatabase("bench_jobs"));
if (settings.Runs("peers"))
    await PeersScenario.Run(settings);
if (settings.Runs("rebuild"))
    await RebuildScenario.Run(await settings.WithFreshDatabase("bench_rebuild"));
if (settings.Runs("archive"))
    await ArchiveScenario.Run(settings);
