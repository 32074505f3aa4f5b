import { signIn } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';

// signInPage asks for an API key; the shell checks it with /v1/me.
export function signInPage(done) {
  const input = h('input', { id: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h('form', { class: 'signin', onsubmit: (ev) => {
    ev.preventDefault();
    signIn(input.value.trim());
    done();
  } },
  h('h2', {}, t('signInTitle')),
  h('label', { for: 'key' }, t('apiKey')), input,
  h('button', { type: 'submit' }, t('signIn')),
  h('p', { class: 'hint' }, t('signInHint')));
  queueMicrotask(() => input.focus());
  return form;
}
