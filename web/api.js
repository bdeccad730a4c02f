// The one module that talks to the server: it holds the access token, adds
// it to requests, turns problem documents and OAuth2 errors into ApiError,
// and reports a 401 so the app can send the user to sign in.

// SESSION_KEY is where the session lives in localStorage; app.js watches it
// for sign-ins and sign-outs in other tabs.
export const SESSION_KEY = 'moments.session';

let session = load();
let unauthorized = () => {};

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    if (s && typeof s.token === 'string' && s.expires > Date.now()) return s;
  } catch { /* a corrupt entry means signed out */ }
  localStorage.removeItem(SESSION_KEY);
  return null;
}

export function signedIn() {
  if (session && session.expires <= Date.now()) forget();
  return session !== null;
}

export function forget() {
  session = null;
  localStorage.removeItem(SESSION_KEY);
}

// reload picks up a sign-in or sign-out made in another tab.
export function reload() {
  session = load();
}

export function onUnauthorized(fn) {
  unauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, body = {}, retryAfter = 0) {
    let msg = body.detail || body.error_description || body.title;
    if (status === 429) msg = `Too many requests; try again in ${retryAfter || 'a few'} seconds.`;
    else if (!status) msg = "Can't reach the server. Check your connection and try again.";
    super(msg || `The server answered ${status}.`);
    this.status = status;
    this.code = body.error || '';
    this.errors = Array.isArray(body.errors) ? body.errors : [];
    this.retryAfter = retryAfter;
  }
}

// request sends one request and returns the Response when it is a 2xx.
// anonymous leaves the token out, for what any visitor may ask.
export async function request(method, path, { json, form, body, signal, accept = 'application/json', anonymous = false } = {}) {
  const headers = { Accept: accept };
  if (session && !anonymous) headers.Authorization = `Bearer ${session.token}`;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = new URLSearchParams(form);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal, cache: 'no-store' });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0);
  }
  if (res.ok) return res;
  let problem = {};
  try {
    problem = await res.json();
  } catch { /* not JSON: keep the status */ }
  throw refused(path, res.status, problem, Number(res.headers.get('Retry-After')) || 0);
}

// refused is the ApiError for a non-2xx answer; a 401 outside /auth/ also
// ends the session and tells the app.
function refused(path, status, problem, retryAfter) {
  const err = new ApiError(status, problem, retryAfter);
  if (status === 401 && !path.startsWith('/auth/')) {
    const had = session !== null;
    forget();
    err.handled = true;
    unauthorized(had);
  }
  return err;
}

export async function call(method, path, opts) {
  const res = await request(method, path, opts);
  return res.status === 204 ? null : res.json();
}

export const get = (path, signal) => call('GET', path, { signal });
export const post = (path, json) => call('POST', path, { json });
export const patch = (path, json) => call('PATCH', path, { json });
export const put = (path, json) => call('PUT', path, { json });
export const del = (path) => call('DELETE', path);

// page builds a list URL: limit and an optional cursor.
export function page(path, cursor, limit = 20) {
  const q = new URLSearchParams({ limit });
  if (cursor) q.set('cursor', cursor);
  return `${path}?${q}`;
}

export async function signIn(username, password) {
  const t = await call('POST', '/auth/token', { form: { grant_type: 'password', username, password } });
  // Forget the token a little before the server would refuse it.
  session = { token: t.access_token, expires: Date.now() + (Number(t.expires_in) || 3600) * 1000 - 30_000 };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

// instance is what the server offers (GET /instance), asked without a
// token so that a stale one cannot get in the way.
export const instance = (signal) => call('GET', '/instance', { signal, anonymous: true });

// upload sends one photo and resolves with the server's answer. It uses
// XMLHttpRequest because fetch cannot report upload progress:
// onProgress(sent, total) is called as the bytes go. Failures are ApiErrors
// as from request, 401 handling included; an abort rejects with AbortError.
export function upload(file, { signal, onProgress } = {}) {
  const path = '/media';
  const body = new FormData();
  body.append('file', file);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    if (session) xhr.setRequestHeader('Authorization', `Bearer ${session.token}`);
    if (onProgress) {
      xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0));
    }
    const stop = () => xhr.abort();
    signal?.addEventListener('abort', stop, { once: true });
    xhr.addEventListener('loadend', () => signal?.removeEventListener('abort', stop));
    xhr.addEventListener('load', () => {
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch { /* not JSON: keep the status */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(answer);
      else reject(refused(path, xhr.status, answer, Number(xhr.getResponseHeader('Retry-After')) || 0));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0)));
    xhr.addEventListener('abort', () => reject(signal?.reason ?? new DOMException('The upload was stopped.', 'AbortError')));
    xhr.send(body);
  });
}

// stream POSTs json and calls onEvent(name, data) for each server-sent
// event. It resolves once the stream ends.
export async function stream(path, json, onEvent, signal) {
  const res = await request('POST', path, { json, signal, accept: 'text/event-stream' });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        const [k, ...rest] = line.split(':');
        const v = rest.join(':').replace(/^ /, '');
        if (k === 'event') event = v;
        else if (k === 'data') data.push(v);
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  }
}
