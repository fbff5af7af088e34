// api.js — owns requests to the server's HTTP API: JSON in and out, a time limit, and errors that carry the status and the server's own message.

const TIMEOUT_MS = 10_000;

/**
 * A refused or failed request: `status` is the HTTP status, 0 when the server was not reached;
 * `code` is the server's stable `code` for it (e.g. `bad_request`), '' when it gave none.
 */
export class ApiError extends Error {
  constructor(status, message, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * `method path`, with `body` sent as JSON when given. Resolves with the parsed answer (null for an
 * empty one), or with the answer's text when `text` is set (for `?format=html` and the like).
 * `headers` go along besides the usual ones (e.g. an `Idempotency-Key`). Rejects with an
 * ApiError for any status >= 400 (its message is the server's `error` text) and for a network
 * failure or timeout (status 0). The session cookie goes along by itself.
 */
export async function api(method, path, body, { timeout = TIMEOUT_MS, text: asText = false, headers: extra = {} } = {}) {
  const headers = { ...extra, Accept: asText ? '*/*' : 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeout),
    });
  } catch (err) {
    throw new ApiError(0, err.message);
  }
  const text = await res.text().catch(() => '');
  if (asText && res.ok) return text;
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = typeof data?.error === 'string' ? data.error : `HTTP ${res.status}`;
    throw new ApiError(res.status, message, typeof data?.code === 'string' ? data.code : '');
  }
  return data;
}

/** The path of document `docId` in the API, e.g. `/api/docs/bildungsleitbild/invites`. */
export const docPath = (docId, rest = '') => `/api/docs/${encodeURIComponent(docId)}${rest}`;
