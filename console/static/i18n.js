// The console's words, in Chinese (the default) and English. A view asks
// t(key); the language switch re-renders the view in the other language.
const words = {
  'zh-CN': {
    brand: 'crowdledger 监管控制台', switch: 'English', switchLabel: 'Switch to English', signOut: '退出',
    nav: '主导航', campaigns: '众筹项目', mine: '我的投资', audit: '审计链', supervision: '监管', exports: '报表导出',
    signInTitle: '使用 API 密钥登录', apiKey: 'API 密钥', signIn: '登录', signInHint: '密钥只保存在本标签页（sessionStorage），关闭即清除。',
    badKey: '密钥无效、已过期或已吊销。', notForRole: '此页面不对您的角色开放。', loading: '加载中…', failed: '加载失败：',
    role: { operator: '运营', compliance: '合规', regulator: '监管机构', investor: '投资人', issuer: '发起方' },
    search: '标题搜索', state: '状态', kind: '类型', any: '全部', filter: '筛选', firstPage: '第一页', nextPage: '下一页',
    states: { draft: '草稿', submitted: '待审核', approved: '已批准', rejected: '已驳回', live: '募集中', succeeded: '募集成功', failed: '募集失败',
      settled: '已结算', refunded: '已退款', fulfilled: '已履约', cancelled: '已撤销', received: '已收到', acknowledged: '已确认',
      mediating: '调解中', resolved: '已解决', escalated: '已上报', committed: '已承诺', drawn: '已抽取', shipped: '已发货' },
    kinds: { reward: '实物众筹', equity: '股权众筹' },
    title: '标题', issuer: '发起方', raised: '已筹 / 目标', investorsCap: '投资人 / 上限', deadline: '截止', alerts: '预警',
    campaignList: '众筹项目列表', noCap: '不限',
    summary: '概况', currency: '币种', percent: '完成度', live: '实时更新中', updated: '已更新',
    flows: '资金流向', flowsTable: '资金流向明细（与账本余额核对）', from: '从', to: '到', count: '笔数', amount: '金额',
    nodes: { investors: '投资人钱包', escrow: '托管账户', released: '退回投资人', escrow_held: '托管余额', platform_fee: '平台服务费',
      payable: '发起方应付', payable_held: '待拨付', issuer_wallet: '发起方钱包', refunds: '售后退款', distributions: '分配与返还',
      carry: '附带收益', other: '其他' },
    reconcile: '核对', account: '账户', inflow: '流入', outflow: '流出', ledgerBalance: '账本余额', reconciled: '一致', mismatch: '不一致',
    flowChart: '资金流向桑基图',
    commitments: '投资记录', investor: '投资人', roleCol: '角色', vehicle: '持股平台', quantity: '份额 / 数量', created: '时间',
    roles: { lead: '领投', follow: '跟投', backer: '支持者' },
    capTable: '股东名册', holder: '持有人', shares: '股数', members: '成员',
    disclosures: '信息披露', documentHash: '文件哈希 (SHA-256)',
    timeline: '审计事件时间线', type: '事件', actor: '操作者', more: '更多',
    exportCsv: '导出 CSV', exportJson: '导出 JSON', freezeThis: '冻结此项目…',
    chainHead: '审计链状态', headPos: '链头位置', checkpoint: '最新签名检查点', signedAt: '签名时间', keyId: '密钥编号', signature: '签名',
    hash: '哈希', publicKeys: '检查点公钥', current: '当前', verifySince: '自最新检查点起的验证', verifyAll: '验证全链',
    verified: '验证通过', notVerified: '验证失败', linksChecked: '已核对链接', checkpointsChecked: '已核对检查点', problems: '问题',
    exportTrail: '导出审计链 (JSON Lines)', offline: '离线验证命令', none: '无',
    freezes: '冻结令', target: '对象', targetType: '对象类型', targetId: '对象编号', reason: '原因', legalBasis: '法律依据',
    placeFreeze: '下达冻结', lift: '解除', liftReason: '解除原因', lifted: '已解除', active: '生效中', createdBy: '下达人',
    targetTypes: { campaign: '项目', party: '当事人', account: '账户' },
    complaints: '投诉', against: '被投诉方', ackBy: '受理期限', overdue: '已逾期', summaryCol: '内容',
    spotChecks: '双随机抽查', pool: '抽样池', drawnCampaigns: '抽中项目', published: '已公开', results: '检查结果', yes: '是', no: '否',
    alertList: '预警', detail: '详情', party: '当事人',
    statement: '账户对账单', accountId: '账户编号', fromDate: '起', toDate: '止', format: '格式', download: '下载',
    campaignReport: '项目资金报告', campaignId: '项目编号', platformReport: '平台报告',
    myCommitments: '我的投资记录', campaign: '项目',
    done: '已完成。', saved: '已提交。',
  },
  en: {
    brand: 'crowdledger supervision console', switch: '中文', switchLabel: '切换到中文', signOut: 'Sign out',
    nav: 'Main', campaigns: 'Campaigns', mine: 'My investments', audit: 'Audit chain', supervision: 'Supervision', exports: 'Exports',
    signInTitle: 'Sign in with an API key', apiKey: 'API key', signIn: 'Sign in', signInHint: 'The key stays in this tab only (sessionStorage) and is gone when it closes.',
    badKey: 'The key is unknown, expired or revoked.', notForRole: 'This page is not open to your role.', loading: 'Loading…', failed: 'Could not load: ',
    role: { operator: 'operator', compliance: 'compliance', regulator: 'regulator', investor: 'investor', issuer: 'issuer' },
    search: 'Title search', state: 'State', kind: 'Kind', any: 'Any', filter: 'Filter', firstPage: 'First page', nextPage: 'Next page',
    states: { draft: 'draft', submitted: 'submitted', approved: 'approved', rejected: 'rejected', live: 'live', succeeded: 'succeeded', failed: 'failed',
      settled: 'settled', refunded: 'refunded', fulfilled: 'fulfilled', cancelled: 'cancelled', received: 'received', acknowledged: 'acknowledged',
      mediating: 'mediating', resolved: 'resolved', escalated: 'escalated', committed: 'committed', drawn: 'drawn', shipped: 'shipped' },
    kinds: { reward: 'reward', equity: 'equity' },
    title: 'Title', issuer: 'Issuer', raised: 'Raised / target', investorsCap: 'Investors / cap', deadline: 'Deadline', alerts: 'Alerts',
    campaignList: 'Campaigns', noCap: 'none',
    summary: 'Summary', currency: 'Currency', percent: 'Of target', live: 'Live updates on', updated: 'Updated',
    flows: 'Fund flows', flowsTable: 'Fund flows (checked against the ledger)', from: 'From', to: 'To', count: 'Count', amount: 'Amount',
    nodes: { investors: "Investors' wallets", escrow: 'Escrow', released: 'Released to investors', escrow_held: 'Held in escrow', platform_fee: 'Platform fee',
      payable: 'Issuer payable', payable_held: 'Not yet disbursed', issuer_wallet: "Issuer's wallet", refunds: 'Refunds', distributions: 'Distributions',
      carry: 'Carry', other: 'Other' },
    reconcile: 'Reconciliation', account: 'Account', inflow: 'In', outflow: 'Out', ledgerBalance: 'Ledger balance', reconciled: 'matches', mismatch: 'DOES NOT MATCH',
    flowChart: 'Fund flow Sankey diagram',
    commitments: 'Commitments', investor: 'Investor', roleCol: 'Role', vehicle: 'Vehicle', quantity: 'Shares / quantity', created: 'At',
    roles: { lead: 'lead', follow: 'follower', backer: 'backer' },
    capTable: 'Cap table', holder: 'Holder', shares: 'Shares', members: 'Members',
    disclosures: 'Disclosures', documentHash: 'Document hash (SHA-256)',
    timeline: 'Audit timeline', type: 'Event', actor: 'Actor', more: 'More',
    exportCsv: 'Export CSV', exportJson: 'Export JSON', freezeThis: 'Freeze this campaign…',
    chainHead: 'Chain state', headPos: 'Head position', checkpoint: 'Latest signed checkpoint', signedAt: 'Signed at', keyId: 'Key id', signature: 'Signature',
    hash: 'Hash', publicKeys: 'Checkpoint public keys', current: 'current', verifySince: 'Verified since the latest checkpoint', verifyAll: 'Verify the whole chain',
    verified: 'verified', notVerified: 'FAILED', linksChecked: 'Links checked', checkpointsChecked: 'Checkpoints checked', problems: 'Problems',
    exportTrail: 'Export the trail (JSON Lines)', offline: 'Verify offline', none: 'none',
    freezes: 'Freezes', target: 'Target', targetType: 'Target type', targetId: 'Target id', reason: 'Reason', legalBasis: 'Legal basis',
    placeFreeze: 'Place freeze', lift: 'Lift', liftReason: 'Reason for lifting', lifted: 'lifted', active: 'in force', createdBy: 'Ordered by',
    targetTypes: { campaign: 'campaign', party: 'party', account: 'account' },
    complaints: 'Complaints', against: 'Against', ackBy: 'Acknowledge by', overdue: 'overdue', summaryCol: 'Summary',
    spotChecks: 'Random spot checks', pool: 'Pool', drawnCampaigns: 'Drawn campaigns', published: 'Published', results: 'Results', yes: 'yes', no: 'no',
    alertList: 'Alerts', detail: 'Detail', party: 'Party',
    statement: 'Account statement', accountId: 'Account id', fromDate: 'From', toDate: 'To', format: 'Format', download: 'Download',
    campaignReport: 'Campaign fund-flow report', campaignId: 'Campaign id', platformReport: 'Platform report',
    myCommitments: 'My commitments', campaign: 'Campaign',
    done: 'Done.', saved: 'Submitted.',
  },
};

const LANG = 'crowdledger.lang';
let lang = localStorage.getItem(LANG) === 'en' ? 'en' : 'zh-CN';

export const language = () => lang;

export function setLanguage(l) {
  lang = l;
  localStorage.setItem(LANG, l);
  document.documentElement.lang = l;
}

// t looks a word up by a dotted path ("states.live"); an unknown one shows
// as itself, so a new state or code is still readable.
export function t(path) {
  let v = words[lang];
  for (const p of path.split('.')) v = v && v[p];
  return typeof v === 'string' ? v : path.split('.').pop();
}
