// The embed token: where it comes from, how requests carry it, and what an expired one does.
//
// The host hands the page a token either in the URL fragment (`#token=...`: a fragment is never
// sent to a server, so never logged) or by `postMessage({type: "cohort:session", token})` from
// one of the embed origins. When the server says the session has expired, the page tells the
// host (`{type: "cohort:session-expired"}`) and waits for a new token.

export class Expired extends Error {}

export class Session {
  constructor(origins) {
    this.origins = origins;
    this.token = null;
    this.waiting = [];
    this.onToken = () => {};
    window.addEventListener("message", (event) => this.#received(event));
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token")) {
      this.token = fragment.get("token");
      history.replaceState(null, "", location.pathname + location.search); // off the address bar
    }
  }

  // Resolves with a token: the one held, or the next one the host sends.
  next() {
    return this.token ? Promise.resolve(this.token) : new Promise((resolve) => this.waiting.push(resolve));
  }

  tell(message) {
    if (window.parent === window) return;
    // The parent's origin where the browser tells it (Chromium, WebKit); otherwise every allowed one
    // (a message to another origin is dropped by the browser).
    const parent = location.ancestorOrigins && location.ancestorOrigins[0];
    const targets = parent && this.origins.includes(parent) ? [parent] : this.origins;
    for (const origin of targets) window.parent.postMessage(message, origin);
  }

  expired() {
    this.token = null;
    this.tell({ type: "cohort:session-expired", dashboard: document.body.dataset.dashboard });
  }

  #received(event) {
    const known = this.origins.includes(event.origin) || event.origin === location.origin;
    const data = event.data;
    if (!known || !data || data.type !== "cohort:session" || typeof data.token !== "string") return;
    this.token = data.token;
    for (const resolve of this.waiting.splice(0)) resolve(this.token);
    this.onToken();
  }

  // fetch with the token; an expired session raises Expired, other refusals an Error with the message.
  async fetch(path, body, accept = "application/json") {
    const token = await this.next();
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        authorization: `Bearer ${token}`,
        accept,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
    if (response.ok) return response;
    const error = await firstError(response);
    if (error.code === "EMBED_SESSION_EXPIRED") {
      if (token === this.token) this.expired();
      throw new Expired(error.message);
    }
    throw new Error(error.message);
  }

  async graphql(query, variables, operationName) {
    const response = await this.fetch("/graphql", { query, variables, operationName });
    const payload = await response.json();
    if (payload.errors && payload.errors.length) {
      const [error] = payload.errors;
      if (error.extensions && error.extensions.code === "EMBED_SESSION_EXPIRED") {
        this.expired();
        throw new Expired(error.message);
      }
      throw new Error(error.message);
    }
    return payload.data;
  }
}

async function firstError(response) {
  try {
    const payload = await response.json();
    const [error] = payload.errors || [];
    return { message: error.message, code: error.extensions && error.extensions.code };
  } catch {
    return { message: `the server answered ${response.status}`, code: null };
  }
}
