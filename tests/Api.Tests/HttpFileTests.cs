using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EventSourced.TestSupport;

namespace EventSourced.Api.Tests;

/// <summary>
/// docs/api/jobs.http, the requests a client or a worker makes, in the format VS Code's REST Client, Visual Studio and JetBrains
/// read: each names an operation of the OpenAPI document, and run in order against the real service (as ./run starts it, with
/// the external type the file asks for), each gets a documented answer that is not an error.
/// </summary>
public sealed partial class HttpFileTests(TestDatabase db) : IClassFixture<TestDatabase>
{
    private static readonly string HttpFilePath = Path.Combine(Repository.Root.FullName, "docs", "api", "jobs.http");

    /// <summary>Operations the file leaves out, as its header says why: a stream that never ends, and a call only a provider makes.</summary>
    private static readonly string[] LeftOut = ["GET /events/stream", "POST /webhooks/{provider}"];

    [Fact]
    public async Task Every_request_of_the_file_names_an_operation_of_the_document_and_every_operation_is_in_it()
    {
        var requests = HttpFile.Parse(await System.IO.File.ReadAllTextAsync(HttpFilePath));
        using var document = JsonDocument.Parse(await System.IO.File.ReadAllTextAsync(Path.Combine(Repository.Root.FullName, "docs", "api", "openapi.json")));
        var operations = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Method: o.Name.ToUpperInvariant(), Template: p.Name))).ToList();

        var named = new HashSet<string>();
        var unknown = new List<string>();
        foreach (var request in requests)
        {
            // The path as written, with every variable standing for one segment.
            var path = Variable().Replace(request.Url.Replace("{{baseUrl}}", "", StringComparison.Ordinal), "x").Split('?')[0];
            var match = operations.Where(o => o.Method == request.Method && Template(o.Template).IsMatch(path))
                .OrderByDescending(o => o.Template.Count(c => c == '/') - o.Template.Count(c => c == '{')).FirstOrDefault();
            if (match.Template is null)
                unknown.Add($"{request.Method} {request.Url}");
            else
                named.Add($"{match.Method} {match.Template}");
        }
        Assert.True(unknown.Count == 0, "Requests of docs/api/jobs.http that name no operation of docs/api/openapi.json: " + string.Join(", ", unknown));
        var missing = operations.Select(o => $"{o.Method} {o.Template}").Where(o => !named.Contains(o) && !LeftOut.Contains(o)).ToList();
        Assert.True(missing.Count == 0, "Operations docs/api/jobs.http has no request for: " + string.Join(", ", missing));
    }

    [Fact]
    public async Task The_requests_run_in_order_against_the_real_service_each_answered_as_the_document_says()
    {
        var settings = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = db.ConnectionString,
            // What the file's header asks ./run to be started with.
            ["Jobs__Types__thumbnail__External"] = "true",
        };
        var (_, created) = await ApiProcess.RunCommand(settings, "keys", "create", "--tenant", "default", "--role", "client,worker,auditor,admin", "--job-types", "*");
        var key = created.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("esk_", StringComparison.Ordinal));
        await using var api = await ApiProcess.StartHealthy(settings);
        // Answers are checked against the served document by the client; redirects are answers too, not followed.
        using var client = api.CreateClient(handler: new SocketsHttpHandler { AllowAutoRedirect = false });
        client.Timeout = Patience.Bound;
        var file = HttpFile.Parse(await System.IO.File.ReadAllTextAsync(HttpFilePath), new Dictionary<string, string>
        {
            ["baseUrl"] = api.BaseAddress.ToString().TrimEnd('/'),
            ["key"] = key,
        });

        var log = new StringBuilder();
        foreach (var request in file)
        {
            using var message = file.Message(request);
            using var response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
            // A stream is read to its end: the job's ends after its last event.
            var body = await response.Content.ReadAsStringAsync();
            file.Answered(request, response, body);
            log.AppendLine($"{request.Method} {message.RequestUri!.PathAndQuery} -> {(int)response.StatusCode}");
            Assert.True((int)response.StatusCode < 400,
                $"{request.Title}: {request.Method} {message.RequestUri} answered {(int)response.StatusCode}: {body}\n\nSo far:\n{log}");
        }
        Assert.Contains("-> 303", log.ToString(), StringComparison.Ordinal);
    }

    private static Regex Template(string template) =>
        new("^" + string.Join("/", template.Split('/').Select(s => s.StartsWith('{') ? "[^/]+" : Regex.Escape(s))) + "$", RegexOptions.CultureInvariant);

    [GeneratedRegex(@"\{\{[^}]+\}\}")]
    private static partial Regex Variable();
}

/// <summary>
/// The parts of the .http format the file uses: <c>@name = value</c> variables, <c>###</c> between requests, <c># @name</c>
/// on a request, <c>{{variable}}</c> and <c>{{request.response.body.$.field}}</c> / <c>{{request.response.headers.Name}}</c>.
/// </summary>
public sealed partial class HttpFile : List<HttpFile.Request>
{
    public sealed record Request(string Title, string? Name, string Method, string Url, List<(string Name, string Value)> Headers, string? Body);

    private readonly Dictionary<string, string> _variables = [];
    private readonly Dictionary<string, (JsonElement? Body, HttpResponseMessage Response)> _answers = [];

    public static HttpFile Parse(string text, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var file = new HttpFile();
        var blocks = Regex.Split(text.ReplaceLineEndings("\n"), "^###", RegexOptions.Multiline);
        for (var b = 0; b < blocks.Length; b++)
        {
            var lines = blocks[b].Split('\n');
            // After ###, the rest of its line is the request's title; before the first ###, there is none.
            var title = b == 0 ? "" : lines[0].Trim();
            string? name = null, method = null, url = null;
            var headers = new List<(string, string)>();
            var i = b == 0 ? 0 : 1;
            for (; i < lines.Length && method is null; i++)
            {
                var line = lines[i].Trim();
                if (NameLine().Match(line) is { Success: true } n)
                    name = n.Groups[1].Value;
                else if (VariableLine().Match(line) is { Success: true } v)
                    file._variables[v.Groups[1].Value] = v.Groups[2].Value.Trim();
                else if (line.Length > 0 && !line.StartsWith('#') && !line.StartsWith("//", StringComparison.Ordinal))
                    (method, url) = (line.Split(' ')[0], line.Split(' ')[1]);
            }
            if (method is null)
                continue;
            for (; i < lines.Length && lines[i].Trim().Length > 0; i++)
                headers.Add((lines[i][..lines[i].IndexOf(':', StringComparison.Ordinal)].Trim(), lines[i][(lines[i].IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()));
            var body = string.Join("\n", lines.Skip(i)).Trim();
            file.Add(new Request(title, name, method, url!, headers, body.Length > 0 ? body : null));
        }
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
            file._variables[key] = value;
        return file;
    }

    public HttpRequestMessage Message(Request request)
    {
        var message = new HttpRequestMessage(new HttpMethod(request.Method), Resolve(request.Url));
        if (request.Body is not null)
            message.Content = new StringContent(Resolve(request.Body), Encoding.UTF8);
        foreach (var (name, value) in request.Headers)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                message.Content!.Headers.ContentType = MediaTypeHeaderValue.Parse(Resolve(value));
            else
                message.Headers.TryAddWithoutValidation(name, Resolve(value));
        }
        return message;
    }

    public void Answered(Request request, HttpResponseMessage response, string body)
    {
        if (request.Name is null)
            return;
        var json = response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.Ordinal) == true && body.Length > 0
            ? JsonDocument.Parse(body).RootElement.Clone() : (JsonElement?)null;
        _answers[request.Name] = (json, response);
    }

    /// <summary>The text with every variable replaced, an answer's field or header included; an unknown one is an error.</summary>
    public string Resolve(string text) => Variable().Replace(text, m =>
    {
        var name = m.Groups[1].Value.Trim();
        if (_variables.TryGetValue(name, out var value))
            return Resolve(value);
        var parts = name.Split('.');
        if (parts.Length >= 4 && parts[1] == "response" && _answers.TryGetValue(parts[0], out var answer))
        {
            if (parts[2] == "body" && parts[3] == "$" && answer.Body is { } node)
            {
                foreach (var field in parts.Skip(4))
                    node = node.GetProperty(field);
                return node.ValueKind == JsonValueKind.String ? node.GetString()! : node.GetRawText();
            }
            if (parts[2] == "headers")
                return string.Join(", ", answer.Response.Headers.TryGetValues(parts[3], out var values) ? values : answer.Response.Content.Headers.GetValues(parts[3]));
        }
        throw new InvalidOperationException($"{{{{{name}}}}} names no variable of the file and no earlier answer.");
    });

    [GeneratedRegex(@"\{\{([^}]+)\}\}")]
    private static partial Regex Variable();

    [GeneratedRegex(@"^#\s*@name\s+(\S+)$")]
    private static partial Regex NameLine();

    [GeneratedRegex(@"^@(\w+)\s*=\s*(.*)$")]
    private static partial Regex VariableLine();
}
