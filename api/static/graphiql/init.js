/*
 * Boots GraphiQL on the page rendered by api/graphiql.py.
 *
 * The server puts its settings into <script type="application/json" id="graphiql-config">
 * (JSON-encoded, with <, > and & escaped), so they are read with JSON.parse and never
 * spliced into JavaScript source.  Expects the React, ReactDOM and GraphiQL UMD globals.
 */
(function () {
  "use strict";

  var ACCEPT = "application/graphql-response+json, application/json";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var endpoint = String(config.endpoint);

  function errorResult(message) {
    return { errors: [{ message: message }] };
  }

  // GraphiQL calls this with {query, variables, operationName} and, as opts.headers,
  // whatever the user typed into the headers editor (e.g. an Authorization header).
  async function fetcher(graphQLParams, opts) {
    var headers = new Headers();
    var userHeaders = (opts && opts.headers) || {};
    try {
      Object.keys(userHeaders).forEach(function (name) {
        headers.set(name, String(userHeaders[name]));
      });
    } catch (err) {
      return errorResult("Invalid request header: " + err.message);
    }
    // The protocol headers always win over anything typed into the headers editor.
    headers.set("Accept", ACCEPT);
    headers.set("Content-Type", "application/json");

    var response = await fetch(endpoint, {
      method: "POST",
      headers: headers,
      credentials: "same-origin",
      body: JSON.stringify({
        query: graphQLParams.query,
        variables: graphQLParams.variables == null ? null : graphQLParams.variables,
        operationName: graphQLParams.operationName == null ? null : graphQLParams.operationName,
      }),
    });
    var text = await response.text();
    try {
      // GraphQL errors come back as JSON with 4xx statuses too: show them as they are.
      return JSON.parse(text);
    } catch (err) {
      var type = response.headers.get("Content-Type") || "no content type";
      return errorResult(
        "HTTP " + response.status + " (" + type + ") is not JSON: " + text.slice(0, 500)
      );
    }
  }

  var props = { fetcher: fetcher };
  if (config.defaultQuery) {
    props.defaultQuery = String(config.defaultQuery);
  }
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
