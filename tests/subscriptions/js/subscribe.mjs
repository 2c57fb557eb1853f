// The reference graphql-ws client against lendgraph: one subscription, each result printed as a JSON line.
//
//   node subscribe.mjs <ws-url> '{"query": "...", "variables": {}, "token": "lg_...", "count": 2, "timeoutMs": 15000}'
//
// Prints every result the server sends ({"data": ...}) on stdout, one JSON document a line, and exits 0
// after `count` of them. A subscription the server refuses prints {"error": ...} and exits 1; no result
// in time exits 3. "connected" goes to stderr once the server acknowledged connection_init.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, spec] = process.argv.slice(2);
const { query, variables = {}, token = null, count = 1, timeoutMs = 15000 } = JSON.parse(spec ?? '{}');

const timer = setTimeout(() => {
  console.error(`no ${count} results within ${timeoutMs} ms`);
  process.exit(3);
}, timeoutMs);

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  on: { connected: () => console.error('connected') },
});

function describe(error) {
  if (Array.isArray(error)) return error; // GraphQL errors from the server's `error` message
  if (error instanceof Error) return { name: error.name, message: error.message };
  if (error && typeof error === 'object' && 'code' in error) return { code: error.code, reason: error.reason }; // CloseEvent
  return String(error);
}

let received = 0;
try {
  for await (const result of client.iterate({ query, variables })) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    received += 1;
    if (received >= count) break; // ends the subscription: the client sends `complete`
  }
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: describe(error) })}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await client.dispose();
}
