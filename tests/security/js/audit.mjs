// The GraphQL-over-HTTP audit suite of graphql-http against one endpoint.
//
//   node audit.mjs http://127.0.0.1:PORT/graphql
//
// Prints one JSON line per audit: {"id", "name", "status": "ok" | "error" (a MUST failed) | "warn" (a SHOULD)
// | "notice" (a MAY), "reason", "httpStatus", "contentType", "body"}. Exits 0 once every audit ran, 2 if one
// could not run at all.
import { serverAudits } from 'graphql-http';

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: node audit.mjs <url>');
  process.exit(2);
}

async function describe(result) {
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    const response = result.response;
    if (response) {
      line.httpStatus = response.status;
      line.contentType = response.headers.get('content-type');
      try {
        line.body = (await response.text()).slice(0, 500);
      } catch {
        line.body = null; // already read by the audit
      }
    }
  }
  return line;
}

try {
  for (const audit of serverAudits({ url, fetchFn: fetch })) {
    console.log(JSON.stringify(await describe(await audit.fn())));
  }
} catch (error) {
  console.error(`an audit could not run: ${error?.stack ?? error}`);
  process.exit(2);
}
