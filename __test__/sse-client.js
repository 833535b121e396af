'use strict';
// A browser-like SSE client for the tests: reads a stream as EventSource
// does, so that what the tests see is what a browser would dispatch.

const http = require('node:http');

/**
 * Parses event-stream text as the WHATWG EventSource algorithm does: lines
 * end at CRLF, CR or LF; a blank line dispatches the pending event (unless
 * its data is empty); `event`, `data` and `id` fields, ':' comments.
 * Returns { events: [{ event, data, id }], comments: [text] }; `data` is the
 * raw string, an unfinished last frame is not dispatched.
 */
function parseEventStream(text) {
  const events = [];
  const comments = [];
  let type = '';
  let data = '';
  let lastId = '';
  const lines = text.split(/\r\n|\r|\n/);
  lines.pop(); // an unterminated line, or '' after the last line break
  for (const line of lines) {
    if (line === '') {
      if (data !== '') events.push({ event: type || 'message', data: data.slice(0, -1), id: lastId });
      type = '';
      data = '';
    } else if (line.startsWith(':')) {
      comments.push(line.slice(1).replace(/^ /, ''));
    } else {
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'data') data += `${value}\n`;
      else if (field === 'id' && !value.includes('\0')) lastId = value;
    }
  }
  return { events, comments };
}

/** Reads a Fetch Response's body in the background: { text(), ended(), close() }. */
function readResponse(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  })()
    .catch(() => {})
    .finally(() => (ended = true));
  return { text: () => text, ended: () => ended, close: () => reader.cancel().catch(() => {}) };
}

/** GETs / from 127.0.0.1:`port` and reads the body in the background, as readResponse. */
function readHttp(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      let ended = false;
      res.on('close', () => (ended = true));
      resolve({ text: () => text, ended: () => ended, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** A node http server on 127.0.0.1 (port 0) that `t` closes at the end. */
async function serve(t, handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return server.address().port;
}

module.exports = { parseEventStream, readResponse, readHttp, serve };
