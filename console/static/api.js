// The console's only way to the service: the same /v1 routes any client
// uses, with the API key the user signed in with. The key lives in this
// tab's sessionStorage (gone when the tab closes, never in a cookie, never
// sent anywhere but this origin's API).
const KEY = 'crowdledger.key';

export const apiKey = () => sessionStorage.getItem(KEY);
export const signIn = (key) => sessionStorage.setItem(KEY, key);
export const signOut = () => sessionStorage.removeItem(KEY);

// ApiError carries the service's RFC 9457 problem: its status, stable code
// and the field at fault.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || '';
    this.field = problem.field || '';
  }
}

async function send(method, path, { body, signal, raw } = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}` };
  if (method === 'POST') {
    headers['Content-Type'] = 'application/json';
    // Every POST carries a fresh key: a retry of this very request (the
    // browser's, after a dropped connection) cannot apply twice.
    headers['Idempotency-Key'] = uuid();
  }
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!r.ok) {
    let problem = {};
    try { problem = await r.json(); } catch { /* not a problem document */ }
    throw new ApiError(r.status, problem);
  }
  return raw ? r : r.json();
}

export const get = (path, opts) => send('GET', path, opts);
export const post = (path, body, opts) => send('POST', path, { ...opts, body });

// download fetches an export with the key and hands it to the browser as a
// file (a link cannot carry the Authorization header).
export async function download(path, filename) {
  const r = await send('GET', path, { raw: true });
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// query builds a query string from the set fields of an object.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// uuid is a random (version 4) UUID from the platform's CSPRNG;
// crypto.randomUUID exists only on secure origins.
function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
