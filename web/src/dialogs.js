// dialogs.js — owns the two small modal questions the app asks: "really do this?" and "which text?".
// Both are native <dialog>s (focus stays inside, Escape cancels) with the page's own messages.
import { t } from './i18n.js';

/** Ask `question`; resolves true when the person confirms with the button labelled `yes`. */
export function confirmAction(question, yes) {
  const dialog = document.getElementById('confirm-dialog');
  const form = document.getElementById('confirm-form');
  const no = document.getElementById('confirm-no');
  document.getElementById('confirm-text').textContent = question;
  document.getElementById('confirm-yes').textContent = yes;
  no.textContent = t('cancel');
  return new Promise((resolve) => {
    const finish = (answer) => {
      form.removeEventListener('submit', onSubmit);
      no.removeEventListener('click', onNo);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      finish(true);
    };
    const onNo = () => finish(false);
    const onClose = () => finish(false);
    form.addEventListener('submit', onSubmit);
    no.addEventListener('click', onNo);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    // The safe choice has the focus.
    no.focus();
  });
}

/**
 * Ask for a text: `title` heads the dialog, `label` names the field (prefilled with `value`),
 * `save` labels the button. An empty text gets the message `requiredMessage`; `check` may refuse
 * others by returning a message ('' accepts). Resolves with the trimmed text, or null when cancelled.
 */
export function promptText({ title, label, value, save, requiredMessage, check = () => '' }) {
  const dialog = document.getElementById('text-dialog');
  const form = document.getElementById('text-form');
  const input = document.getElementById('text-input');
  const error = document.getElementById('text-error');
  const cancel = document.getElementById('text-cancel');
  document.getElementById('text-dialog-title').textContent = title;
  document.getElementById('text-label').textContent = label;
  document.getElementById('text-save').textContent = save;
  cancel.textContent = t('cancel');
  input.value = value;
  error.textContent = '';
  input.setAttribute('aria-invalid', 'false');
  return new Promise((resolve) => {
    const finish = (answer) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const text = input.value.trim();
      const problem = text ? check(text) : requiredMessage;
      if (problem) {
        error.textContent = problem;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      finish(text);
    };
    const onCancel = () => finish(null);
    const onClose = () => finish(null);
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    input.select();
  });
}

/**
 * Ask `question` with two named answers besides "Abbrechen": resolves 'first', 'second' or null.
 * The dialog is made here on first use (the page's markup has no place for it). `first` gets the
 * focus: it is the safe choice.
 */
export function chooseBetween(question, first, second) {
  let dialog = document.getElementById('choice-dialog');
  if (!dialog) {
    dialog = document.createElement('dialog');
    dialog.id = 'choice-dialog';
    dialog.setAttribute('aria-labelledby', 'choice-text');
    dialog.innerHTML = `<form method="dialog" novalidate><p id="choice-text"></p>
      <div class="dialog-actions"><button type="button" id="choice-cancel"></button>
      <button type="button" id="choice-second"></button><button type="button" class="primary" id="choice-first"></button></div></form>`;
    document.body.append(dialog);
  }
  dialog.querySelector('#choice-text').textContent = question;
  const buttons = { first: dialog.querySelector('#choice-first'), second: dialog.querySelector('#choice-second'), cancel: dialog.querySelector('#choice-cancel') };
  buttons.first.textContent = first;
  buttons.second.textContent = second;
  buttons.cancel.textContent = t('cancel');
  return new Promise((resolve) => {
    const handlers = {};
    const finish = (answer) => {
      for (const [name, button] of Object.entries(buttons)) button.removeEventListener('click', handlers[name]);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    for (const [name, button] of Object.entries(buttons)) {
      handlers[name] = () => finish(name === 'cancel' ? null : name);
      button.addEventListener('click', handlers[name]);
    }
    const onClose = () => finish(null);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    buttons.first.focus();
  });
}
