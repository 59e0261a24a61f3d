// Server-Sent Events read from fetch, as the HTML standard parses them ("Interpreting an event stream"), so the client
// works where EventSource does not exist (React Native, workers, Node) and can send Authorization.

/** Turns the stream's text, in chunks as they come, into its events. Keeps `lastEventId` and `retry` as the stream sets them. */
export class SseParser {
  #buffer = '';
  #started = false;
  #data = '';
  #hasData = false;
  #event = '';
  lastEventId = '';
  /** The reconnection time in ms the stream asked for (its `retry:` field), if it did. */
  retry = undefined;

  /** The events completed by this chunk of text. */
  push(text) {
    this.#buffer += text;
    if (!this.#started && this.#buffer.length > 0) {
      this.#started = true;
      if (this.#buffer.charCodeAt(0) === 0xfeff)
        this.#buffer = this.#buffer.slice(1);
    }
    const events = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i];
      if (c !== '\n' && c !== '\r')
        continue;
      // A CR at the end of the chunk may be the first half of a CRLF: wait for the next chunk to tell.
      if (c === '\r' && i === this.#buffer.length - 1)
        break;
      const line = this.#buffer.slice(start, i);
      if (c === '\r' && this.#buffer[i + 1] === '\n')
        i++;
      start = i + 1;
      const event = this.#line(line);
      if (event)
        events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line) {
    if (line === '')
      return this.#dispatch();
    if (line.startsWith(':'))
      return undefined; // a comment: the service's keepalive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' '))
      value = value.slice(1);
    if (field === 'event')
      this.#event = value;
    else if (field === 'data') {
      this.#data += `${value}\n`;
      this.#hasData = true;
    } else if (field === 'id' && !value.includes('\0'))
      this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value))
      this.retry = Number(value);
    return undefined;
  }

  #dispatch() {
    const event = this.#hasData ? { id: this.lastEventId, event: this.#event || 'message', data: this.#data.slice(0, -1) } : undefined;
    this.#data = '';
    this.#hasData = false;
    this.#event = '';
    return event;
  }
}

/**
 * The events of a response's body as they arrive. An event cut off by the end of the body is never yielded (the
 * standard discards it). Where fetch cannot stream a body (React Native without a streaming fetch), the body is read
 * whole, so its events come when the stream ends.
 */
export async function* readEvents(response, parser) {
  if (!response.body?.getReader) {
    yield* parser.push(await response.text());
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done)
        break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    // Stops the download when the caller leaves early; an error here (the stream already failed) changes nothing.
    reader.cancel().catch(() => {});
  }
}
