// rendered-html.js — owns turning the HTML the server renders for a text (`/at`, versions) into
// DOM nodes. The server already escapes and sanitises it; this copies it once more through an
// allowlist of the elements and attributes the renderer writes, so that nothing else, however
// it got there, ever reaches the page. It must not be used for any other text from the server.

const ELEMENTS = new Set([
  'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'P', 'BR', 'HR', 'PRE', 'CODE', 'BLOCKQUOTE', 'UL', 'OL', 'LI',
  'STRONG', 'EM', 'B', 'I', 'S', 'U', 'A', 'IMG',
]);
const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/))/i;
const SAFE_IMAGE = /^(https?:|data:image\/(png|gif|jpeg|webp);|\/(?!\/))/i;

/** A fragment holding the allowed part of `html`: unknown elements give way to their text. */
export function renderedHtml(html) {
  // A document of its own: nothing in it loads or runs while it is parsed.
  const parsed = new DOMParser().parseFromString(String(html), 'text/html');
  const fragment = document.createDocumentFragment();
  copyChildren(parsed.body, fragment);
  return fragment;
}

function copyChildren(from, to) {
  // Iterative, so that deeply nested input cannot exhaust the stack.
  const stack = [[from, to]];
  while (stack.length > 0) {
    const [source, target] = stack.pop();
    for (const node of source.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        target.append(node.data);
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (node.tagName === 'SCRIPT' || node.tagName === 'STYLE' || node.tagName === 'TEMPLATE') continue;
        if (!ELEMENTS.has(node.tagName)) {
          // An element the renderer never writes: keep its text, nothing else.
          target.append(node.textContent);
          continue;
        }
        const copy = document.createElement(node.tagName.toLowerCase());
        copyAttributes(node, copy);
        target.append(copy);
        stack.push([node, copy]);
      }
    }
  }
}

function copyAttributes(from, to) {
  const href = from.getAttribute('href');
  if (to.tagName === 'A' && href && SAFE_URL.test(href.trim())) {
    to.setAttribute('href', href.trim());
    to.setAttribute('rel', 'noopener noreferrer');
    to.setAttribute('target', '_blank');
  }
  if (to.tagName === 'IMG') {
    const src = from.getAttribute('src');
    if (src && SAFE_IMAGE.test(src.trim())) to.setAttribute('src', src.trim());
    to.setAttribute('alt', from.getAttribute('alt') ?? '');
  }
  const start = from.getAttribute('start');
  if (to.tagName === 'OL' && start && /^\d{1,9}$/.test(start)) to.setAttribute('start', start);
}
