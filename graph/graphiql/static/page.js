// lendgraph's GraphiQL page (graph/graphiql/page.html loads it after React, ReactDOM and GraphiQL).
// Queries and mutations go over HTTP POST to this same URL; subscriptions over a WebSocket to it,
// with graphql-transport-ws (GraphiQL's bundled graphql-ws client). What the headers editor holds is
// sent with both: as HTTP headers, and as the payload of the socket's connection_init, where the
// server reads `Authorization` too. Served from 'self' only, as the page's Content-Security-Policy requires.
(function () {
  "use strict";

  var EXAMPLE_QUERY = [
    "# lendgraph: GraphQL for peer-to-peer microlending.",
    "#",
    "# Run with Ctrl-Enter (or the play button); Ctrl-Space completes.",
    "# The Docs button shows every type and field.",
    "#",
    "# Signing in: open Headers below and write",
    '#   {"Authorization": "Bearer <your token>"}',
    "# (`lendgraph seed-demo` prints demo tokens). Subscriptions, such as",
    "#   subscription { loanListed { eventId loan { name } } }",
    "# run over a WebSocket that sends the same header.",
    "",
    "{",
    "  loans(first: 5) {",
    "    totalCount",
    "    edges {",
    "      node {",
    "        id",
    "        name",
    "        amount",
    "        fundedAmount",
    "      }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  // The query and variables travel in the page's URL (?q=...&variables=...), so a link shares them.
  // Not `query`: a GET with a `query` parameter is a GraphQL request, answered in JSON.
  var parameters = new URLSearchParams(window.location.search);

  function remember(name, value) {
    if (value) {
      parameters.set(name, value);
    } else {
      parameters.delete(name);
    }
    var search = parameters.toString();
    history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  var url = window.location.origin + window.location.pathname;
  var fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: url.replace(/^http/, "ws"),
  });

  function LendGraphiQL() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      query: parameters.get("q") || EXAMPLE_QUERY,
      variables: parameters.get("variables") || undefined,
      onEditQuery: function (query) {
        remember("q", query);
      },
      onEditVariables: function (variables) {
        remember("variables", variables);
      },
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // A bearer token moves money: it stays in the tab, not in the browser's storage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(LendGraphiQL));
})();
