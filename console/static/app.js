// The console's shell: who is signed in, the navigation their role may
// use, and the view the URL's fragment names (#/campaigns?state=live), so
// a view with its filters can be shared as a link.
import { apiKey, get, signOut, ApiError } from './api.js';
import { h, message } from './dom.js';
import { t, language, setLanguage } from './i18n.js';
import { signInPage } from './pages/signin.js';
import { campaignsPage } from './pages/campaigns.js';
import { campaignPage } from './pages/campaign.js';
import { minePage } from './pages/mine.js';
import { auditPage } from './pages/audit.js';
import { supervisionPage } from './pages/supervision.js';
import { exportsPage } from './pages/exports.js';

// views: each page, the roles it is for (the routes decide what each role
// may read; this only keeps a role from pages that would all be 403) and
// whether it appears in the navigation.
const views = {
  campaigns: { page: campaignsPage, roles: ['operator', 'compliance', 'regulator', 'investor', 'issuer'], nav: true },
  campaign: { page: campaignPage, roles: ['operator', 'compliance', 'regulator', 'investor', 'issuer'] },
  mine: { page: minePage, roles: ['investor'], nav: true },
  supervision: { page: supervisionPage, roles: ['operator', 'compliance', 'regulator'], nav: true },
  audit: { page: auditPage, roles: ['regulator'], nav: true },
  exports: { page: exportsPage, roles: ['regulator'], nav: true },
};

let me = null;         // the signed-in key: {role, subject, name}
let leaving = null;    // the current view's AbortController: its polls end when it is left

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  const [name = 'campaigns', ...args] = path.split('/').filter(Boolean);
  return { name, args, params: new URLSearchParams(qs) };
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function render() {
  if (leaving) leaving.abort();
  leaving = new AbortController();
  const main = document.getElementById('main');
  document.documentElement.lang = language();
  document.getElementById('lang').textContent = t('switch');
  document.getElementById('lang').setAttribute('aria-label', t('switchLabel'));
  document.getElementById('brand').textContent = t('brand');
  document.title = t('brand');
  if (!apiKey()) {
    me = null;
    shell();
    main.replaceChildren(signInPage(() => { me = null; go('#/campaigns'); }));
    return;
  }
  if (!me) {
    try {
      me = await get('/v1/me');
    } catch (e) {
      signOut();
      shell();
      main.replaceChildren(signInPage(() => { me = null; go('#/campaigns'); }), message(e instanceof ApiError && e.status === 401 ? t('badKey') : t('failed') + e.message, 'error'));
      return;
    }
  }
  shell();
  const route = parse();
  const view = views[route.name];
  main.replaceChildren();
  if (!view || !view.roles.includes(me.role)) {
    main.append(h('h2', {}, t(route.name)), message(t('notForRole'), 'error'));
    return;
  }
  const status = message(t('loading'));
  main.append(status);
  try {
    const content = await view.page({ ...route, me, signal: leaving.signal });
    status.remove();
    main.append(content);
  } catch (e) {
    if (e.name === 'AbortError') return;
    status.replaceWith(message(t('failed') + e.message, 'error'));
  }
  const heading = main.querySelector('h2');
  if (heading) heading.setAttribute('tabindex', '-1');
}

// shell draws the navigation for the signed-in role.
function shell() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  nav.setAttribute('aria-label', t('nav'));
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    out.hidden = true;
    return;
  }
  const current = parse().name;
  nav.replaceChildren(h('ul', {}, Object.entries(views).filter(([, v]) => v.nav && v.roles.includes(me.role)).map(([name]) =>
    h('li', {}, h('a', { href: `#/${name}`, 'aria-current': name === current ? 'page' : undefined }, t(name))))));
  who.replaceChildren(`${me.name} · ${t(`role.${me.role}`)}`);
  out.hidden = false;
  out.textContent = t('signOut');
}

document.getElementById('lang').addEventListener('click', () => {
  setLanguage(language() === 'en' ? 'zh-CN' : 'en');
  render();
});
document.getElementById('signout').addEventListener('click', () => {
  signOut();
  me = null;
  go('#/campaigns');
});
window.addEventListener('hashchange', render);
render();
