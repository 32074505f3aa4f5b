import { get, download } from '../api.js';
import { h, time, section, message } from '../dom.js';
import { t } from '../i18n.js';

// auditPage: the chain's head and latest signed checkpoint, the keys that
// verify it, the chain verified from that checkpoint on (the whole chain
// on request), the export and the command that verifies it offline.
export async function auditPage({ signal }) {
  const [head, keys] = await Promise.all([get('/v1/audit/head', { signal }), get('/v1/audit/public-keys', { signal })]);
  const cp = head.checkpoint;
  const from = cp ? cp.pos : 1;
  const report = h('div', { id: 'verification' });
  const verify = async (fromPos) => {
    report.replaceChildren(message(t('loading')));
    const r = await get(`/v1/audit/verify${fromPos > 1 ? `?from_pos=${fromPos}` : ''}`, { signal });
    report.replaceChildren(h('p', { class: r.ok ? 'ok big' : 'bad big', id: 'verify-status' }, r.ok ? `✓ ${t('verified')}` : `✗ ${t('notVerified')}`),
      h('dl', { class: 'figures' },
        h('dt', {}, 'from_pos – to_pos'), h('dd', { class: 'num' }, `${r.from_pos} – ${r.to_pos}`),
        h('dt', {}, t('linksChecked')), h('dd', { class: 'num' }, String(r.links_checked)),
        h('dt', {}, t('checkpointsChecked')), h('dd', { class: 'num' }, String(r.checkpoints_checked))),
      r.problems.length ? h('ul', { class: 'problems' }, r.problems.map((p) => h('li', {}, `${p.kind} @${p.pos ?? ''}: ${p.detail}`))) : null);
  };
  const current = keys.keys.find((k) => k.current);
  const page = h('div', {}, h('h2', {}, t('audit')),
    section(t('chainHead'), h('dl', { class: 'figures' },
      h('dt', {}, t('headPos')), h('dd', { class: 'num', id: 'head-pos' }, String(head.pos)),
      h('dt', {}, t('checkpoint')), h('dd', { class: 'num' }, cp ? String(cp.pos) : t('none')),
      cp ? [h('dt', {}, t('signedAt')), h('dd', {}, time(cp.signed_at)), h('dt', {}, t('keyId')), h('dd', { class: 'mono' }, cp.key_id),
        h('dt', {}, t('hash')), h('dd', { class: 'mono hash' }, cp.hash), h('dt', {}, t('signature')), h('dd', { class: 'mono hash' }, cp.signature)] : null)),
    section(t('publicKeys'), h('ul', {}, keys.keys.map((k) => h('li', { class: 'mono hash' }, `${k.key_id} (${k.algorithm}${k.current ? `, ${t('current')}` : ''}): ${k.public_key}`)))),
    section(t('verifySince'), report, h('button', { type: 'button', id: 'verify-all', onclick: () => verify(1) }, t('verifyAll'))),
    section(t('offline'),
      h('button', { type: 'button', id: 'export-trail', onclick: () => download('/v1/audit/export', 'audit.jsonl') }, t('exportTrail')),
      h('pre', { class: 'command' }, `crowdledger audit verify audit.jsonl --public-key ${current ? current.public_key : '<public key>'}`)));
  await verify(from);
  return page;
}
