namespace EventSourced.TestSupport;

public static class Repository
{
    /// <summary>The repository the tests were built from: where EventSourced.sln is.</summary>
    public static DirectoryInfo Root
    {
        get
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "EventSourced.sln")))
                root = root.Parent;
            return root ?? throw new InvalidOperationException("EventSourced.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
