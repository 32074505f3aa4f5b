import { get, query } from '../api.js';
import { h, amount, time, short, table } from '../dom.js';
import { t } from '../i18n.js';

// minePage: an investor's own commitments (the route gives an investor
// key nothing else), a page at a time.
export async function minePage({ params, signal }) {
  const cursor = params.get('cursor') || '';
  const p = await get(`/v1/commitments${query({ limit: 50, cursor })}`, { signal });
  return h('div', {}, h('h2', {}, t('myCommitments')),
    table(t('myCommitments'), [t('created'), t('campaign'), t('roleCol'), t('amount'), t('state')],
      p.items.map((m) => h('tr', {},
        h('td', {}, time(m.created_at)),
        h('td', {}, h('a', { href: `#/campaign/${m.campaign_id}` }, short(m.campaign_id))),
        h('td', {}, t(`roles.${m.role}`)),
        h('td', { class: 'num' }, amount(m.amount, m.currency)),
        h('td', {}, t(`states.${m.state}`)))), { id: 'mine' }),
    h('nav', { class: 'pager', 'aria-label': t('myCommitments') },
      cursor ? h('a', { href: '#/mine' }, t('firstPage')) : null,
      p.next_cursor ? h('a', { href: `#/mine?cursor=${encodeURIComponent(p.next_cursor)}` }, t('nextPage')) : null));
}
