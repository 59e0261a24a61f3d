using System.Text.Encodings.Web;
using System.Text.Json;

namespace EventSourced.Api.Http;

/// <summary>
/// How JSON written outside ASP.NET Core's results (exports, event streams, callbacks) escapes strings: as those results
/// do, only as JSON requires. The default encoder also escapes what matters inside HTML (+ &lt; &gt; &amp; '), so the same
/// event read "+00:00" in a feed page and "\u002B00:00" in an export or a tail. No answer is embedded in a page.
/// </summary>
public static class ResponseJson
{
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>The web defaults (camelCase) with <see cref="Encoder"/>.</summary>
    public static readonly JsonSerializerOptions Web = new(JsonSerializerOptions.Web) { Encoder = Encoder };
}
