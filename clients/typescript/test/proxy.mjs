// A fault-injecting proxy on 127.0.0.1 in front of the real service, for the client's tests: it forwards every request
// and records it with its answer's status, unless a rule the test set takes the request instead: drop the answer after the
// service gave it, answer in the service's place, or cut an event stream in the middle of an event.
import http from 'node:http';

export async function startProxy(target) {
  const upstream = new URL(target);
  const requests = [];
  const rules = [];
  // Its own connections to the service, closed with the proxy: kept-alive ones would hold the test process open.
  const agent = new http.Agent({ keepAlive: true });

  /** Sends the request on to the service; `onAnswer(upstreamResponse, entry)` takes the answer instead of passing it through. */
  const forward = (req, res, entry, { headers = req.headers, onAnswer } = {}) => {
    const outgoing = http.request({
      agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
      headers: { ...headers, host: upstream.host },
    }, (answer) => {
      entry.status = answer.statusCode;
      entry.headersOut = answer.headers;
      if (onAnswer)
        return onAnswer(answer, entry);
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    outgoing.on('error', () => res.socket?.destroy());
    req.pipe(outgoing);
  };

  const server = http.createServer((req, res) => {
    const entry = { method: req.method, url: req.url, headers: req.headers, at: Date.now(), status: undefined };
    requests.push(entry);
    const index = rules.findIndex((rule) => rule.matches(req));
    if (index < 0)
      return forward(req, res, entry);
    const [rule] = rules.splice(index, 1);
    entry.fault = rule.name;
    rule.handle(req, res, entry);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    /** The requests whose path starts with `prefix`. */
    to: (prefix) => requests.filter((r) => r.url.startsWith(prefix)),

    /** The next request that matches is forwarded, the service answers it in full, and then the connection is dropped. */
    dropAnswer(matches) {
      rules.push({
        name: 'answer dropped', matches, handle: (req, res, entry) => forward(req, res, entry, {
          onAnswer: (answer) => {
            answer.resume();
            answer.on('end', () => res.socket.destroy());
          },
        }),
      });
    },

    /** The next request that matches is answered by the proxy: a 503 with Retry-After, a web page, ... */
    answer(matches, status, headers, body) {
      rules.push({
        name: `answered ${status}`, matches, handle: (req, res, entry) => {
          entry.status = status;
          req.resume();
          res.writeHead(status, headers);
          res.end(body);
        },
      });
    },

    /** Every request that matches, from now on, is forwarded with `rewrite(headers)` (a proxy that drops Prefer, say). */
    rewriteAlways(matches, rewrite) {
      const rule = { name: 'rewritten', matches, handle: (req, res, entry) => {
        rules.push(rule);
        forward(req, res, entry, { headers: rewrite({ ...req.headers }) });
      } };
      rules.push(rule);
    },

    /**
     * The next event stream that matches is passed on until `events` events went through, then cut in the middle of the
     * next one's data line (half of it sent, then the connection dropped). `cut.at` is when.
     */
    cutStream(matches, events) {
      const cut = { at: undefined };
      rules.push({
        name: 'stream cut', matches, handle: (req, res, entry) => forward(req, res, entry, {
          onAnswer: (answer) => {
            res.writeHead(answer.statusCode, answer.headers);
            let text = '';
            let sent = 0;
            answer.setEncoding('utf8');
            answer.on('data', (chunk) => {
              if (cut.at !== undefined)
                return;
              text += chunk;
              const ends = [...text.matchAll(/data:[^\n]*\n\n/g)].map((m) => m.index + m[0].length);
              // Pass on whole events up to the Nth; then half of the next one's data line, once it is here.
              const upTo = ends.length >= events ? ends[events - 1] : (ends.at(-1) ?? 0);
              if (upTo > sent) {
                res.write(text.slice(sent, upTo));
                sent = upTo;
              }
              const next = ends.length >= events ? text.indexOf('data:', upTo) : -1;
              if (next >= 0 && text.indexOf('\n', next) >= 0) {
                res.write(text.slice(sent, next + Math.floor((text.indexOf('\n', next) - next) / 2)));
                cut.at = Date.now();
                answer.destroy();
                res.socket.destroy();
              }
            });
          },
        }),
      });
      return cut;
    },

    close: () => new Promise((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}
