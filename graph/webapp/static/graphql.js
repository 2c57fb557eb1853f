// The public GraphQL API, as any client calls it: queries and mutations over HTTP POST /graphql,
// subscriptions over a WebSocket to the same path with graphql-transport-ws (the vendored graphql-ws client).
// A lender's token travels in the Authorization header, and in connection_init on the socket that needs it.
import { createClient } from "./vendor/graphql-ws@6.4.2/dist/client.js";

// The page is served at <root>/app and this module at <root>/app/static/: the API is at <root>/graphql.
const ENDPOINT = new URL("../../graphql", import.meta.url);
const SOCKET = Object.assign(new URL(ENDPOINT), { protocol: ENDPOINT.protocol === "https:" ? "wss:" : "ws:" });

// A top-level GraphQL error (README "The API": UNAVAILABLE, RATE_LIMITED, INVALID_AMOUNT, ...) or a
// failure to reach the server at all (code NETWORK). Typed results of mutations are data, not errors.
export class ApiError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

let token = null;

export function useToken(value) {
  token = value;
  privateSocket?.dispose();
  privateSocket = null;
}

function firstError(errors) {
  const [error] = errors;
  const { code = "ERROR", ...details } = error.extensions ?? {};
  return new ApiError(code, error.message, details);
}

export async function request(query, variables = {}) {
  const headers = {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json;q=0.9",
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(ENDPOINT, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch (error) {
    throw new ApiError("NETWORK", error.message);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status === 429 ? "RATE_LIMITED" : "NETWORK", `HTTP ${response.status}`);
  }
  if (body.errors?.length) throw firstError(body.errors);
  return body.data;
}

function socket(connectionParams) {
  return createClient({
    url: SOCKET.href,
    connectionParams,
    lazy: true,
    // A dropped socket is opened again, and its subscriptions sent again.
    retryAttempts: Infinity,
    shouldRetry: () => true,
  });
}

const publicSocket = socket(undefined);
let privateSocket = null;

// Calls onEvent with each event's data, onError with an ApiError; returns the function that stops it.
// `signedIn`: the stream needs the lender's token (myEvents), sent in connection_init.
// A stream whose document takes `$after` resumes after the last event it had when the socket is opened
// again (README "Events"): the client sends the payload again as it then stands.
export function subscribe(query, variables, { onEvent, onError = () => {}, signedIn = false }) {
  let client = publicSocket;
  if (signedIn) {
    privateSocket ??= socket(() => ({ authorization: `Bearer ${token}` }));
    client = privateSocket;
  }
  const payload = { query, variables: { ...variables } };
  const resumes = /\$after\b/.test(query);
  function next(result) {
    if (result.errors?.length) return onError(firstError(result.errors));
    const [event] = Object.values(result.data);
    if (resumes && event?.eventId) payload.variables.after = event.eventId;
    onEvent(result.data);
  }
  return client.subscribe(
    payload,
    {
      next,
      error: (error) => onError(new ApiError("NETWORK", String(error?.reason ?? error?.message ?? error))),
      complete: () => {},
    },
  );
}

// Resolves once a socket has answered a query sent after the subscriptions made on it before: the
// server has taken them by then, so the page can say it is live.
export function socketReady({ signedIn = false } = {}) {
  const client = signedIn ? privateSocket : publicSocket;
  return new Promise((resolve) => {
    if (!client) return resolve(false);
    client.subscribe(
      { query: "{ __typename }" },
      { next: () => {}, error: () => resolve(false), complete: () => resolve(true) },
    );
  });
}
