import { get, post } from '../api.js';
import { h, time, short, table, section, message } from '../dom.js';
import { t } from '../i18n.js';

// supervisionPage: freezes (placed and lifted by regulators, with a reason
// and a legal basis), complaints with their deadlines and timelines, and,
// for regulators, the random spot checks and the alerts.
export async function supervisionPage({ params, me, signal }) {
  const regulator = me.role === 'regulator';
  const freezes = h('div', { id: 'freezes-box' });
  const status = h('div', { class: 'status-line' });
  const loadFreezes = async () => {
    const p = await get('/v1/freezes?limit=50', { signal });
    freezes.replaceChildren(table(t('freezes'), [t('created'), t('target'), t('reason'), t('legalBasis'), t('createdBy'), t('state'), ''],
      p.items.map((f) => h('tr', { 'data-freeze': f.id },
        h('td', {}, time(f.created_at)),
        h('td', {}, `${t(`targetTypes.${f.target_type}`)} `, f.target_type === 'campaign'
          ? h('a', { href: `#/campaign/${f.target_id}`, class: 'mono' }, short(f.target_id)) : h('span', { class: 'mono' }, short(f.target_id))),
        h('td', {}, f.reason), h('td', {}, f.legal_basis), h('td', {}, f.created_by),
        h('td', {}, f.lifted_at ? `${t('lifted')} ${time(f.lifted_at)}` : h('strong', {}, t('active'))),
        h('td', {}, regulator && !f.lifted_at ? liftControl(f, status, loadFreezes) : ''))), { id: 'freezes' }));
  };

  const [complaints, checks, alerts] = await Promise.all([
    get('/v1/complaints?limit=50', { signal }),
    regulator ? get('/v1/spot-checks', { signal }) : null,
    regulator ? get('/v1/alerts', { signal }) : null,
    loadFreezes(),
  ]);
  const now = Date.now();
  return h('div', {}, h('h2', {}, t('supervision')), status,
    section(t('freezes'), regulator ? freezeForm(params, status, loadFreezes) : null, freezes),
    section(t('complaints'), table(t('complaints'), [t('created'), t('against'), t('summaryCol'), t('state'), t('ackBy'), t('timeline')],
      complaints.items.map((c) => h('tr', {},
        h('td', {}, time(c.created_at)),
        h('td', {}, c.against_type, ' ', c.against_type === 'campaign' && c.against_id ? h('a', { href: `#/campaign/${c.against_id}`, class: 'mono' }, short(c.against_id)) : h('span', { class: 'mono' }, short(c.against_id))),
        h('td', {}, c.summary),
        h('td', {}, t(`states.${c.state}`)),
        h('td', { class: c.state === 'received' && Date.parse(c.acknowledge_by) < now ? 'bad' : '' }, time(c.acknowledge_by),
          c.state === 'received' && Date.parse(c.acknowledge_by) < now ? ` (${t('overdue')})` : ''),
        h('td', {}, h('ol', { class: 'timeline' }, c.timeline.map((e) => h('li', {}, `${time(e.at)} ${t(`states.${e.to_state}`)} ${e.note}`)))))), { id: 'complaints' })),
    checks ? section(t('spotChecks'), table(t('spotChecks'), [t('created'), t('state'), t('pool'), t('drawnCampaigns'), t('published'), t('results')],
      checks.items.map((s) => h('tr', {},
        h('td', {}, time(s.committed_at)), h('td', {}, t(`states.${s.state}`)), h('td', { class: 'num' }, String(s.pool_size)),
        h('td', {}, (s.campaigns || []).map((id) => h('a', { href: `#/campaign/${id}`, class: 'mono' }, short(id), ' '))),
        h('td', {}, s.published ? t('yes') : t('no')),
        h('td', {}, s.results || ''))))) : null,
    alerts ? section(t('alertList'), table(t('alertList'), [t('kind'), t('campaign'), t('party'), t('detail')],
      alerts.items.map((a) => h('tr', {},
        h('td', { class: 'mono' }, a.kind),
        h('td', {}, a.campaign_id ? h('a', { href: `#/campaign/${a.campaign_id}`, class: 'mono' }, short(a.campaign_id)) : ''),
        h('td', { class: 'mono' }, short(a.party_id)), h('td', {}, a.detail))), { id: 'alerts' })) : null);
}

// freezeForm places a freeze; a campaign page's link fills in its target.
function freezeForm(params, status, reload) {
  const field = (name, label, input) => [h('label', { for: `fz-${name}` }, label), input];
  const type = h('select', { id: 'fz-type', name: 'target_type' }, ['campaign', 'party', 'account'].map((x) =>
    h('option', { value: x, selected: params.get('target_type') === x }, t(`targetTypes.${x}`))));
  const target = h('input', { id: 'fz-target', name: 'target_id', required: true, value: params.get('target_id') || '', size: 38 });
  const reason = h('input', { id: 'fz-reason', name: 'reason', required: true });
  const basis = h('input', { id: 'fz-basis', name: 'legal_basis', required: true });
  const form = h('form', { class: 'stack', id: 'freeze-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await post('/v1/freezes', { target_type: type.value, target_id: target.value.trim(), reason: reason.value, legal_basis: basis.value });
      status.replaceChildren(message(t('saved')));
      form.reset();
      await reload();
    } catch (e) {
      status.replaceChildren(message(`${e.message}${e.field ? ` (${e.field})` : ''}`, 'error'));
    }
  } },
  field('type', t('targetType'), type), field('target', t('targetId'), target), field('reason', t('reason'), reason),
  field('basis', t('legalBasis'), basis), h('button', { type: 'submit' }, t('placeFreeze')));
  return form;
}

// liftControl lifts a freeze with a reason.
function liftControl(f, status, reload) {
  const id = `lift-${f.id}`;
  const reason = h('input', { id, required: true });
  return h('form', { class: 'inline', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await post(`/v1/freezes/${f.id}/lift`, { reason: reason.value });
      status.replaceChildren(message(t('done')));
      await reload();
    } catch (e) {
      status.replaceChildren(message(e.message, 'error'));
    }
  } }, h('label', { for: id }, t('liftReason')), reason, h('button', { type: 'submit' }, t('lift')));
}

