// menu-button.js — owns the behaviour of a button that opens a small menu (WAI-ARIA menu button):
// the Format menu of the toolbar on narrow screens and the print/download menu. It does not decide
// what the items do; their own click handlers do, and the menu closes afterwards.

/**
 * Wire `button` (aria-haspopup="menu") to `menu` (role="menu", hidden, items with a role starting
 * with "menuitem"). Arrow keys, Home and End move between items, Escape closes and returns to the
 * button, Tab or a click elsewhere closes. Returns `{ close }`.
 */
export function wireMenu(button, menu) {
  const items = () => [...menu.querySelectorAll('[role^="menuitem"]')];
  button.setAttribute('aria-haspopup', 'menu');
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', menu.id);
  menu.hidden = true;
  for (const item of items()) item.tabIndex = -1;

  const onOutside = (event) => {
    if (!menu.contains(event.target) && !button.contains(event.target)) close();
  };
  const open = (focusLast = false) => {
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    document.addEventListener('pointerdown', onOutside, true);
    const list = items();
    const checked = list.find((item) => item.getAttribute('aria-checked') === 'true');
    (checked ?? (focusLast ? list.at(-1) : list[0]))?.focus();
  };
  function close(refocus = false) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', onOutside, true);
    if (refocus) button.focus();
  }

  button.addEventListener('click', () => (menu.hidden ? open() : close()));
  button.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    event.stopPropagation();
    open(event.key === 'ArrowUp');
  });
  menu.addEventListener('keydown', (event) => {
    const list = items();
    const index = list.indexOf(document.activeElement);
    let next = null;
    if (event.key === 'ArrowDown') next = (index + 1) % list.length;
    else if (event.key === 'ArrowUp') next = (index - 1 + list.length) % list.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = list.length - 1;
    else if (event.key === 'Escape') {
      event.preventDefault();
      close(true);
    } else if (event.key === 'Tab') close();
    // The toolbar's own arrow keys must not see keys meant for the menu.
    event.stopPropagation();
    if (next === null) return;
    event.preventDefault();
    list[next].focus();
  });
  // After an item's own handler has run.
  menu.addEventListener('click', (event) => {
    if (event.target.closest('[role^="menuitem"]')) close();
  });
  return { close };
}
