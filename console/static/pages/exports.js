import { download, query } from '../api.js';
import { h, section, message } from '../dom.js';
import { t } from '../i18n.js';

// exportsPage: statements and reports straight from the report routes, as
// files (each ends with its row count and SHA-256 trailer).
export async function exportsPage() {
  const status = h('div', { class: 'status-line' });
  const run = (fn) => async (ev) => {
    ev.preventDefault();
    try {
      await fn();
      status.replaceChildren(message(t('done')));
    } catch (e) {
      status.replaceChildren(message(`${e.message}${e.field ? ` (${e.field})` : ''}`, 'error'));
    }
  };
  const input = (id, label, attrs = {}) => [h('label', { for: id }, label), h('input', { id, ...attrs })];
  const format = (id, options) => [h('label', { for: id }, t('format')), h('select', { id }, options.map((o) => h('option', { value: o }, o)))];
  const val = (id) => document.getElementById(id).value.trim();
  const day = (id, end) => (val(id) ? `${val(id)}T${end ? '23:59:59.999' : '00:00:00'}Z` : '');
  return h('div', {}, h('h2', {}, t('exports')), status,
    section(t('statement'), h('form', { class: 'stack', onsubmit: run(() => download(
      `/v1/reports/accounts/${val('st-account')}/statement${query({ from: day('st-from'), to: day('st-to', true), format: val('st-format') })}`,
      `statement-${val('st-account')}.${val('st-format') === 'camt053' ? 'xml' : val('st-format')}`)) },
    input('st-account', t('accountId'), { required: true, size: 38 }), input('st-from', t('fromDate'), { type: 'date' }), input('st-to', t('toDate'), { type: 'date' }),
    format('st-format', ['csv', 'camt053', 'json']), h('button', { type: 'submit' }, t('download')))),
    section(t('campaignReport'), h('form', { class: 'stack', onsubmit: run(() => download(
      `/v1/reports/campaigns/${val('cr-campaign')}?format=${val('cr-format')}`, `campaign-${val('cr-campaign')}.${val('cr-format')}`)) },
    input('cr-campaign', t('campaignId'), { required: true, size: 38 }), format('cr-format', ['csv', 'json']), h('button', { type: 'submit' }, t('download')))),
    section(t('platformReport'), h('button', { type: 'button', onclick: run(() => download('/v1/reports/platform', 'platform.json')) }, `${t('download')} JSON`)));
}
