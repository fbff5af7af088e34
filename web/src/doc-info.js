// doc-info.js — owns what the app knows about a document besides its text: title and created_at from the API, cached for offline use.
import { readObject, writeObject } from './storage.js';

const CACHE_KEY = 'leitbild.docs';
const TIMEOUT_MS = 3000;

/**
 * The document's `{ title, createdAt }`; null when the server says it does not exist. A slow,
 * failing or unreachable server never blocks for more than 3 s: the cached entry is used instead
 * (createdAt stays null when this browser never saw the document online).
 */
export async function fetchDocInfo(docId) {
  const cached = readObject(CACHE_KEY)[docId] ?? {};
  const fallback = {
    title: typeof cached.title === 'string' && cached.title ? cached.title : docId,
    createdAt: Number.isSafeInteger(cached.createdAt) ? cached.createdAt : null,
  };
  if (!navigator.onLine) return fallback;
  try {
    const res = await fetch(`/api/docs/${encodeURIComponent(docId)}`, {
      headers: { Accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(res.statusText);
    const entry = await res.json();
    const info = {
      title: typeof entry.title === 'string' && entry.title ? entry.title : docId,
      createdAt: Number.isSafeInteger(entry.created_at) ? entry.created_at : fallback.createdAt,
    };
    writeObject(CACHE_KEY, { ...readObject(CACHE_KEY), [docId]: info });
    return info;
  } catch {
    return fallback;
  }
}

/**
 * The IndexedDB name for the local copy of `docId`. It carries the creation time, so a document
 * created again under an old id (data dir wiped, demo re-seeded) never merges the old local copy
 * into the new document, which would duplicate all of its text for everyone.
 */
export const localStoreName = (docId, createdAt) => `leitbild:${docId}:${createdAt ?? 'unknown'}`;
