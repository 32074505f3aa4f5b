import { get, query, download, ApiError } from '../api.js';
import { h, amount, time, short, table, section } from '../dom.js';
import { t } from '../i18n.js';
import { flowsView } from './flows.js';

const staff = ['operator', 'compliance', 'regulator'];

// campaignPage: one campaign as its role may see it: its figures, its fund
// flows checked against the ledger, its commitments a page at a time
// (never the whole list: a campaign may have a hundred thousand), cap
// table, disclosures and audit timeline. It follows the event feed and
// redraws its figures when the campaign's money moves.
export async function campaignPage({ args, params, me, signal }) {
  const id = args[0];
  const after = params.get('after') || '';
  const mayFlows = me.role === 'issuer' || staff.includes(me.role);
  // The feed's head before the figures are read: a change that lands in
  // between is then one the page hears of.
  const head = await get('/v1/events?after=latest', { signal }).then((p) => p.next_cursor, () => null);
  const [c, flows, commitments, disclosures] = await Promise.all([
    get(`/v1/campaigns/${id}`, { signal }),
    mayFlows ? optional(get(`/v1/campaigns/${id}/fund-flows`, { signal })) : null,
    get(`/v1/commitments${query({ campaign_id: id, limit: 50, cursor: after })}`, { signal }),
    get(`/v1/campaigns/${id}/disclosures`, { signal }),
  ]);

  const figures = h('div', { id: 'figures' });
  const showFigures = (c) => figures.replaceChildren(h('dl', { class: 'figures' },
    h('dt', {}, t('state')), h('dd', {}, h('span', { class: `state ${c.state}` }, t(`states.${c.state}`))),
    h('dt', {}, t('kind')), h('dd', {}, t(`kinds.${c.kind}`)),
    h('dt', {}, t('issuer')), h('dd', { class: 'mono' }, c.issuer_id),
    h('dt', {}, t('raised')), h('dd', { id: 'raised', class: 'num' }, `${amount(c.committed)} / ${amount(c.target)} ${c.currency} (${c.percent_of_target}%)`),
    h('dt', {}, t('investorsCap')), h('dd', { id: 'investors', class: 'num' }, `${c.investors} / ${c.max_investors || t('noCap')}`),
    h('dt', {}, t('deadline')), h('dd', {}, time(c.deadline))));
  showFigures(c);
  const flowsBox = h('div', { id: 'flows-box' });
  if (flows) flowsBox.append(flowsView(flows));
  const liveNote = h('p', { class: 'live', role: 'status', 'aria-live': 'polite' }, t('live'));

  const page = h('div', {}, h('h2', {}, c.title),
    section(t('summary'), figures, liveNote, actions(c, me)),
    flows ? section(t('flows'), flowsBox) : null,
    section(t('commitments'), commitmentsTable(c, commitments), pager(id, after, commitments)),
    c.kind === 'equity' && mayFlows ? await optional(capTable(id, signal)) : null,
    section(t('disclosures'), table(t('disclosures'), [t('title'), t('kind'), t('documentHash')],
      disclosures.items.map((d) => h('tr', {}, h('td', {}, d.title), h('td', {}, d.kind), h('td', { class: 'mono hash' }, d.document_hash))))),
    staff.includes(me.role) ? await timeline(id, signal) : null);

  if (head !== null) follow(id, head, signal, async () => {
    const [c2, f2] = await Promise.all([get(`/v1/campaigns/${id}`, { signal }), flows ? get(`/v1/campaigns/${id}/fund-flows`, { signal }) : null]);
    showFigures(c2);
    if (f2) flowsBox.replaceChildren(flowsView(f2));
    liveNote.textContent = `${t('updated')} ${time(new Date().toISOString())}`;
  });
  return page;
}

// optional is a read a role may be refused (an issuer's view of another
// issuer's campaign): nothing rather than an error.
async function optional(p) {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 404)) return null;
    throw e;
  }
}

function actions(c, me) {
  if (me.role !== 'regulator') return null;
  return h('p', { class: 'actions' },
    h('button', { type: 'button', id: 'export-csv', onclick: () => download(`/v1/reports/campaigns/${c.id}?format=csv`, `campaign-${c.id}.csv`) }, t('exportCsv')),
    h('button', { type: 'button', id: 'export-json', onclick: () => download(`/v1/reports/campaigns/${c.id}?format=json`, `campaign-${c.id}.json`) }, t('exportJson')),
    h('a', { href: `#/supervision?target_type=campaign&target_id=${c.id}` }, t('freezeThis')));
}

function commitmentsTable(c, page) {
  return table(t('commitments'), [t('created'), t('investor'), t('roleCol'), t('vehicle'), t('quantity'), t('amount'), t('state')],
    page.items.map((m) => h('tr', {},
      h('td', {}, time(m.created_at)),
      h('td', { class: 'mono', title: m.investor_id }, short(m.investor_id)),
      h('td', {}, t(`roles.${m.role}`)),
      h('td', { class: 'mono' }, short(m.vehicle_id)),
      h('td', { class: 'num' }, m.shares ?? (m.quantity !== undefined ? `${m.tier} × ${m.quantity}` : '')),
      h('td', { class: 'num' }, amount(m.amount, m.currency)),
      h('td', {}, t(`states.${m.state}`)))), { id: 'commitments' });
}

function pager(id, after, page) {
  return h('nav', { class: 'pager', 'aria-label': t('commitments') },
    after ? h('a', { href: `#/campaign/${id}` }, t('firstPage')) : null,
    page.next_cursor ? h('a', { href: `#/campaign/${id}?after=${encodeURIComponent(page.next_cursor)}`, rel: 'next', id: 'commitments-next' }, t('nextPage')) : null);
}

async function capTable(id, signal) {
  const cap = await get(`/v1/campaigns/${id}/cap-table?commitments=false`, { signal });
  return section(t('capTable'), table(t('capTable'), [t('holder'), t('shares'), t('members')],
    cap.holders.map((x) => h('tr', {},
      h('td', { class: 'mono' }, x.vehicle_id ? `${t('vehicle')} ${short(x.vehicle_id)}` : short(x.investor_id)),
      h('td', { class: 'num' }, String(x.shares)),
      h('td', {}, (x.members || []).map((m) => `${short(m.investor_id)} (${m.shares})`).join(', '))))));
}

async function timeline(id, signal) {
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, t('more'));
  let cursor = '';
  const load = async () => {
    const p = await get(`/v1/campaigns/${id}/events${query({ limit: 20, cursor })}`, { signal });
    for (const e of p.items) {
      body.append(h('tr', {}, h('td', {}, time(e.occurred_at)), h('td', { class: 'mono' }, e.type), h('td', {}, t(`role.${e.actor_role}`)),
        h('td', { class: 'mono' }, e.id || `#${e.seq}`)));
    }
    cursor = p.next_cursor || '';
    more.hidden = !cursor;
  };
  more.addEventListener('click', load);
  await load();
  return section(t('timeline'), h('table', { id: 'timeline' }, h('caption', {}, t('timeline')),
    h('thead', {}, h('tr', {}, [t('created'), t('type'), t('actor'), 'id'].map((x) => h('th', { scope: 'col' }, x)))), body), more);
}

// follow long-polls the event feed from cursor after and calls refresh
// when an event concerns this campaign, until the page is left.
async function follow(id, after, signal, refresh) {
  while (!signal.aborted) {
    try {
      const p = await get(`/v1/events${query({ after, wait: 20 })}`, { signal });
      after = p.next_cursor;
      if (p.items.some((e) => e.objects[0] === id)) await refresh();
    } catch (e) {
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

