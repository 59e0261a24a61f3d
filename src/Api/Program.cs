return await EventSourced.Api.ApiHost.Run(args);

public partial class Program;
