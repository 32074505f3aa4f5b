import { init } from '../vendor/charts.js';
import { h, amount, table } from '../dom.js';
import { t } from '../i18n.js';

// flowsView draws a campaign's fund flows: a Sankey diagram (investors'
// wallets, escrow, issuer, fee, refunds, carry, distributions) whose
// proportions are the exact amounts in minor units, and beside it the
// table of every flow and each account's reconciliation with the ledger.
// The labels and the table keep the service's exact strings.
export function flowsView(f) {
  const scale = (f.escrow.balance.split('.')[1] || '').length;
  const fixed = (n) => {
    const neg = n < 0n;
    const s = (neg ? -n : n).toString().padStart(scale + 1, '0');
    const out = scale ? `${s.slice(0, -scale)}.${s.slice(-scale)}` : s;
    return (neg ? '-' : '') + out;
  };
  const units = (s) => BigInt(s.replace('-', '').replace('.', '')) * (s.startsWith('-') ? -1n : 1n);
  // A node's exact total: what flowed into it, or out of it for a source.
  const into = new Map();
  const outOf = new Map();
  for (const l of f.links) {
    into.set(l.to, (into.get(l.to) || 0n) + units(l.amount));
    outOf.set(l.from, (outOf.get(l.from) || 0n) + units(l.amount));
  }
  const total = (n) => (into.get(n) ?? outOf.get(n) ?? 0n);
  const drawn = f.links.filter((l) => l.from !== l.to);
  const names = [...new Set(drawn.flatMap((l) => [l.from, l.to]))];
  const label = (n) => t(`nodes.${n}`);

  const chartEl = h('div', { id: 'flow-chart', class: 'chart', role: 'img', 'aria-label': t('flowChart') });
  const rows = f.links.map((l) => h('tr', { 'data-from': l.from, 'data-to': l.to, 'data-code': l.code },
    h('td', {}, label(l.from)), h('td', {}, label(l.to)), h('td', { class: 'mono' }, l.code),
    h('td', { class: 'num' }, String(l.count)), h('td', { class: 'num', 'data-amount': l.amount }, amount(l.amount))));
  const held = (name, a) => h('tr', { 'data-account': name },
    h('th', { scope: 'row' }, label(name)),
    h('td', { class: 'num', 'data-field': 'in' }, amount(a.in)),
    h('td', { class: 'num', 'data-field': 'out' }, amount(a.out)),
    h('td', { class: 'num', 'data-field': 'balance' }, amount(a.balance)),
    h('td', { class: a.reconciled ? 'ok' : 'bad', 'data-field': 'reconciled' }, a.reconciled ? `✓ ${t('reconciled')}` : `✗ ${t('mismatch')}`));
  const view = h('div', { class: 'flows' }, chartEl,
    h('div', {},
      table(`${t('flowsTable')} (${f.currency})`, [t('from'), t('to'), 'code', t('count'), t('amount')], rows, { id: 'flows' }),
      table(t('reconcile'), [t('account'), t('inflow'), t('outflow'), t('ledgerBalance'), t('reconcile')],
        [held('escrow', f.escrow), held('payable', f.payable)], { id: 'reconcile' })));

  // The chart is drawn once the element is in the page (it needs a size);
  // the page may still be loading its other parts.
  let tries = 0;
  const draw = () => {
    if (!drawn.length || tries++ > 400) return;
    if (!chartEl.isConnected) {
      setTimeout(draw, 25);
      return;
    }
    const chart = init(chartEl, null, { renderer: 'canvas' });
    chart.setOption({
      animation: false,
      aria: { enabled: true, label: { description: `${t('flowChart')}: ${drawn.map((l) => `${label(l.from)} → ${label(l.to)} ${l.amount} ${f.currency}`).join('; ')}` } },
      tooltip: { trigger: 'item', renderMode: 'richText',
        formatter: (p) => (p.dataType === 'edge' ? `${label(p.data.source)} → ${label(p.data.target)}\n${amount(p.data.amount)} ${f.currency}` : `${p.name}`) },
      series: [{
        type: 'sankey', left: 8, right: 150, top: 8, bottom: 8, nodeGap: 14, layoutIterations: 32, draggable: false,
        emphasis: { focus: 'adjacency' },
        data: names.map((n) => ({ name: n, total: fixed(total(n)) })),
        links: drawn.map((l) => ({ source: l.from, target: l.to, value: Number(units(l.amount)), amount: l.amount, code: l.code })),
        label: { color: '#1f2328', formatter: (p) => `${label(p.name)}\n${amount(p.data.total)}` },
        lineStyle: { color: 'source', opacity: 0.35, curveness: 0.5 },
      }],
    });
    new ResizeObserver(() => chart.resize()).observe(chartEl);
  };
  draw();
  return view;
}
