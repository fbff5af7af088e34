// storage.js — owns access to localStorage; a browser that refuses storage (private mode, policy) only loses memory, never the page.

/** The stored string under `key`, or null when absent or storage is unavailable. */
export function readItem(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Store `value` under `key`; returns false when storage is unavailable or full. */
export function writeItem(key, value) {
  try {
    localStorage.setItem(key, value);
    return true;
  } catch {
    return false;
  }
}

/** The JSON object stored under `key`, or `fallback` when absent, unreadable or not an object. */
export function readObject(key, fallback = {}) {
  try {
    const value = JSON.parse(readItem(key) ?? 'null');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

/** Store `value` as JSON under `key`; returns false when it could not be stored. */
export const writeObject = (key, value) => writeItem(key, JSON.stringify(value));
