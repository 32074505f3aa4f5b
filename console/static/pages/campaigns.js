import { get, query } from '../api.js';
import { h, amount, time, short, table } from '../dom.js';
import { t } from '../i18n.js';

const states = ['draft', 'submitted', 'approved', 'rejected', 'live', 'succeeded', 'failed', 'settled', 'refunded', 'fulfilled'];

// campaignsPage: the campaign list with its filters in the URL, a page at
// a time from the server (its keyset cursor in the URL too).
export async function campaignsPage({ params, me, signal }) {
  const filters = { q: params.get('q') || '', state: params.get('state') || '', kind: params.get('kind') || '' };
  const cursor = params.get('cursor') || '';
  const [list, alerts] = await Promise.all([
    get(`/v1/campaigns${query({ ...filters, cursor, limit: 20 })}`, { signal }),
    me.role === 'regulator' ? get('/v1/alerts', { signal }) : { items: [] },
  ]);
  const alertsOf = new Map();
  for (const a of alerts.items) if (a.campaign_id) alertsOf.set(a.campaign_id, (alertsOf.get(a.campaign_id) || 0) + 1);

  const select = (name, options, label) => h('select', { id: `f-${name}`, name },
    h('option', { value: '' }, t('any')),
    options.map((o) => h('option', { value: o, selected: filters[name] === o }, label(o))));
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = `#/campaigns${query({ q: f.get('q'), state: f.get('state'), kind: f.get('kind') })}`;
  } },
  h('label', { for: 'f-q' }, t('search')), h('input', { id: 'f-q', name: 'q', type: 'search', value: filters.q }),
  h('label', { for: 'f-state' }, t('state')), select('state', states, (s) => t(`states.${s}`)),
  h('label', { for: 'f-kind' }, t('kind')), select('kind', ['reward', 'equity'], (k) => t(`kinds.${k}`)),
  h('button', { type: 'submit' }, t('filter')));

  const rows = list.items.map((c) => h('tr', {},
    h('td', {}, h('a', { href: `#/campaign/${c.id}` }, c.title)),
    h('td', {}, h('span', { class: `state ${c.state}` }, t(`states.${c.state}`))),
    h('td', {}, t(`kinds.${c.kind}`)),
    h('td', { class: 'mono', title: c.issuer_id }, short(c.issuer_id)),
    h('td', { class: 'num' }, `${amount(c.committed)} / ${amount(c.target)} ${c.currency}`, h('br'), h('small', {}, `${c.percent_of_target}%`)),
    h('td', { class: 'num' }, `${c.investors} / ${c.max_investors || t('noCap')}`),
    h('td', {}, time(c.deadline)),
    h('td', { class: 'num' }, alertsOf.get(c.id) ? h('span', { class: 'alert-count' }, String(alertsOf.get(c.id))) : '')));

  const here = query(filters);
  const pager = h('nav', { class: 'pager', 'aria-label': t('campaignList') },
    cursor ? h('a', { href: `#/campaigns${here}` }, t('firstPage')) : null,
    list.next_cursor ? h('a', { href: `#/campaigns${query({ ...filters, cursor: list.next_cursor })}`, rel: 'next' }, t('nextPage')) : null);
  return h('div', {}, h('h2', {}, t('campaigns')), form,
    table(t('campaignList'), [t('title'), t('state'), t('kind'), t('issuer'), t('raised'), t('investorsCap'), t('deadline'), t('alerts')], rows, { id: 'campaigns' }),
    pager);
}
