/**
 * The hub's HTTP API as the inbox uses it: seed 003 /api/v1/conversations, plus the seed 000
 * message list for the stored analysis (priority and risk), all with `Authorization: Bearer <key>`.
 */

const BASE = "/api/v1/conversations";

/** An HTTP error with the server's own explanation. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** The readable explanation from any of the hub's error envelopes. */
export function errorMessage(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  if (body && typeof body.message === "string") return body.message;
  if (body && typeof body.error === "string") return body.error;
  return `The hub answered ${status}`;
}

/** A random key for Idempotency-Key (crypto.randomUUID needs https; this does not). */
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function send(key, method, path, body, headers = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${key}`, Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "Could not reach the hub. Check the connection and try again.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, errorMessage(data, response.status));
  return data;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  return search.toString();
}

/**
 * An API client for one key. `onUnauthorized` runs when the hub stops accepting the key.
 * @param {string} key
 * @param {(error: ApiError) => void} [onUnauthorized]
 */
export function createApi(key, onUnauthorized = () => {}) {
  const call = async (method, path, body, headers) => {
    try {
      return await send(key, method, path, body, headers);
    } catch (error) {
      if (error.status === 401) onUnauthorized(error);
      throw error;
    }
  };
  const conversation = (id) => `${BASE}/${encodeURIComponent(id)}`;
  return {
    list: (params) => call("GET", `${BASE}?${query({ sort_by: "last_message_at", sort_order: "desc", ...params })}`),
    stats: () => call("GET", `${BASE}/stats`),
    thread: (id) => call("GET", conversation(id)),
    recentMessages: (id, count = 5) =>
      call("GET", `/api/conversations/${encodeURIComponent(id)}/messages?order=desc&pageSize=${count}`),
    approve: (id, suggestionId, editedBody) =>
      call("POST", `${conversation(id)}/approve`, { suggestion_id: suggestionId, edited_body: editedBody ?? null }),
    reject: (id, suggestionId, reason) =>
      call("POST", `${conversation(id)}/reject`, { suggestion_id: suggestionId, reason: reason || null }),
    reply: (id, body, idempotencyKey) =>
      call("POST", `${conversation(id)}/reply`, { body }, { "Idempotency-Key": idempotencyKey }),
    regenerate: (id, messageId, { tone, customPrompt } = {}) =>
      call("POST", `${conversation(id)}/regenerate`,
        { message_id: messageId ?? null, tone: tone || null, custom_prompt: customPrompt || null }),
    archive: (id, reason) => call("PATCH", `${conversation(id)}/archive`, { reason: reason || null }),
  };
}

/** Check a key before keeping it: resolves when the hub accepts it, throws ApiError otherwise. */
export async function checkKey(key) {
  await send(key, "GET", `${BASE}/stats`);
}
