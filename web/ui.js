// DOM helpers. Everything a user wrote reaches the page through h(), which
// only ever creates text nodes and sets whitelisted attributes: no HTML
// string is ever parsed.

const ATTRS = new Set([
  'id', 'class', 'href', 'src', 'alt', 'title', 'type', 'name', 'for', 'rel', 'target',
  'datetime', 'role', 'tabindex', 'hidden', 'disabled', 'placeholder', 'autocomplete',
  'required', 'minlength', 'maxlength', 'accept', 'multiple', 'width', 'height', 'loading',
  'decoding', 'rows', 'method', 'inputmode', 'pattern', 'spellcheck', 'autocapitalize',
  'enterkeyhint', 'referrerpolicy', 'readonly', 'lang', 'dir',
]);

// safeURL returns u when it is an in-app path or an absolute http(s) URL
// (blob: too for image previews), else null.
export function safeURL(u, blob = false) {
  if (typeof u !== 'string') return null;
  // In-app paths; no white space or backslash, which browsers strip or
  // read as a slash and so could turn into a link to another host.
  if (/^(#\/|\/(?![/\\]))/.test(u)) return /[\s\\]/.test(u) ? null : u;
  try {
    const p = new URL(u);
    if (p.protocol === 'http:' || p.protocol === 'https:' || (blob && p.protocol === 'blob:')) return p.href;
  } catch { /* not a URL */ }
  return null;
}

// h builds an element. attrs: whitelisted attributes, aria-* and data-*;
// functions under on* keys become listeners; `value` and `checked` are set
// as properties. Children are nodes or strings (as text), nested arrays,
// and null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = tag === 'svg' || tag === 'path'
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new TypeError(`listener ${k} must be a function`);
      el.addEventListener(k.slice(2), v);
    } else if (k === 'value' || k === 'checked') {
      el[k] = v;
    } else if (ATTRS.has(k) || k.startsWith('aria-') || k.startsWith('data-') || el instanceof SVGElement) {
      let s = v === true ? '' : String(v);
      if (k === 'href' || k === 'src') {
        s = safeURL(s, k === 'src');
        if (s == null) continue;
      }
      el.setAttribute(k, s);
    } else {
      throw new TypeError(`attribute ${k} is not allowed`);
    }
  }
  append(el, ...children);
  return el;
}

// append adds children to el by h()'s rules: nodes, strings as text, nested
// arrays, and null/false skipped. The DOM's own append and replaceChildren
// would write `false` or `null` into the page as text, so views use these.
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// fill replaces el's children by the same rules.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

export const $ = (sel, root = document) => root.querySelector(sel);

const ICONS = {
  heart: 'M12 20.5s-7.6-4.6-9.3-9.3C1.5 7.6 3.7 4.5 7 4.5c2.1 0 3.7 1.2 5 3 1.3-1.8 2.9-3 5-3 3.3 0 5.5 3.1 4.3 6.7-1.7 4.7-9.3 9.3-9.3 9.3z',
  comment: 'M4 5h16v11H9l-5 4z',
  trash: 'M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13',
  close: 'M6 6l12 12M18 6L6 18',
  left: 'M15 5l-7 7 7 7',
  right: 'M9 5l7 7-7 7',
  photo: 'M4 6h16v13H4zM4 16l5-5 4 4 3-3 4 4M15.5 9.5h.01',
  spark: 'M12 3l2 6 6 2-6 2-2 6-2-6-6-2 6-2z',
  up: 'M12 19V5M6 11l6-6 6 6',
  link: 'M10 14a4 4 0 006 0l3-3a4 4 0 00-6-6l-1 1M14 10a4 4 0 00-6 0l-3 3a4 4 0 006 6l1-1',
  lock: 'M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 017 0v3',
  people: 'M9 11a3 3 0 100-6 3 3 0 000 6zM3.5 19c.5-3 2.7-5 5.5-5s5 2 5.5 5M16 10.5a2.5 2.5 0 100-5M17.5 14c1.8.5 3 2.3 3.3 5',
  globe: 'M12 3a9 9 0 100 18 9 9 0 000-18zM3 12h18M12 3c2.5 2.6 3.6 5.6 3.6 9s-1.1 6.4-3.6 9c-2.5-2.6-3.6-5.6-3.6-9S9.5 5.6 12 3',
  members: 'M12 11a3.5 3.5 0 100-7 3.5 3.5 0 000 7zM5 20c.6-3.6 3.4-6 7-6s6.4 2.4 7 6',
  edit: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4',
};

// icon is a decorative stroke icon; the control it sits in has a label.
export function icon(name) {
  return h('svg', { viewBox: '0 0 24 24', class: `icon icon-${name}`, 'aria-hidden': 'true', focusable: 'false' },
    h('path', { d: ICONS[name] }));
}

export const displayName = (a) => (a.display_name || '').trim() || a.username;

// thumbURL is the small version of a photo: uploads have one, other URLs
// are used as they are.
export const thumbURL = (u) => (u.startsWith('/media/') ? `${u}?size=thumb` : u);

function initials(a) {
  const words = displayName(a).split(/[\s_]+/).filter(Boolean);
  return words.slice(0, 2).map((w) => Array.from(w)[0]).join('').toUpperCase() || '?';
}

function hue(s) {
  let n = 0;
  for (const ch of s) n = (n * 31 + ch.codePointAt(0)) >>> 0;
  return n % 8;
}

// avatar is a user's picture, or their initials on a colour of their own.
// It is decorative: the name is always next to it.
export function avatar(a, size = 'md') {
  if (a.avatar_url && safeURL(a.avatar_url)) {
    const px = { sm: 32, md: 44, lg: 88 }[size];
    return h('img', {
      class: `avatar ${size}`, src: thumbURL(a.avatar_url), alt: '', width: px, height: px,
      loading: 'lazy', decoding: 'async',
    });
  }
  return h('span', { class: `avatar ${size} initials hue-${hue(a.username)}`, 'aria-hidden': 'true' }, initials(a));
}

// bytes says a size the way people read it: 64 KB, 1.5 MB, 10 MB.
export function bytes(n) {
  if (n < 1024) return `${n} bytes`;
  const [v, unit] = n < 1024 ** 2 ? [n / 1024, 'KB'] : n < 1024 ** 3 ? [n / 1024 ** 2, 'MB'] : [n / 1024 ** 3, 'GB'];
  return `${v < 10 && !Number.isInteger(v) ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)} ${unit}`;
}

// uploading is an upload's progress as a tile or status line shows it.
export function uploading(sent, total) {
  if (!(total > 0)) return 'Uploading…';
  return `Uploading… ${Math.min(100, Math.floor((100 * sent) / total))}%`;
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

// ago says how long ago date was, in words.
export function ago(date, now = Date.now()) {
  const s = Math.round((date - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return 'just now';
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  if (a < 7 * 86400) return rtf.format(Math.round(s / 86400), 'day');
  const opts = { day: 'numeric', month: 'short' };
  if (new Date(date).getFullYear() !== new Date(now).getFullYear()) opts.year = 'numeric';
  return new Date(date).toLocaleDateString(undefined, opts);
}

// timeEl is a relative time with the exact time on hover.
export function timeEl(iso) {
  const d = new Date(iso);
  return h('time', {
    datetime: iso, 'data-rel': '',
    title: d.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' }),
  }, ago(d));
}

setInterval(() => {
  for (const t of document.querySelectorAll('time[data-rel]')) t.textContent = ago(new Date(t.dateTime));
}, 60_000);

const URLS = /\bhttps?:\/\/[^\s<>"'`]+/gi;

// linkify turns text into text nodes and links for its http(s) URLs.
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URLS)) {
    let url = m[0];
    // Sentence punctuation after a URL is not part of it; a closing
    // bracket is, when the URL opened one.
    while (/[.,;:!?'")\]}*]$/.test(url)) {
      const close = url.at(-1);
      const open = { ')': '(', ']': '[', '}': '{' }[close];
      if (open && url.split(open).length > url.split(close).length - 1) break;
      url = url.slice(0, -1);
    }
    const href = safeURL(url);
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(href ? h('a', { href, rel: 'noopener nofollow ugc', target: '_blank' }, url) : url);
    last = m.index + url.length;
  }
  out.push(text.slice(last));
  return out;
}

// toast shows a short message in the page's live region.
export function toast(message, kind = 'info') {
  const t = h('p', { class: `toast ${kind}` }, message);
  $('#toasts').append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// report shows an error unless it was already dealt with (a 401 sends the
// user to sign in) or the view that asked has gone.
export function report(err, what) {
  if (err.handled || err.name === 'AbortError') return;
  toast(what ? `${what}: ${err.message}` : err.message, 'error');
}

let dialogs = 0;

// confirmDialog asks a yes/no question in a modal dialog; Cancel has the
// focus, so Enter or Escape never destroys anything by accident.
export function confirmDialog(question, yes = 'Delete') {
  return new Promise((resolve) => {
    const id = `confirm-${++dialogs}`;
    const d = h('dialog', { class: 'confirm', 'aria-labelledby': id },
      h('form', { method: 'dialog' },
        h('p', { id }, question),
        h('div', { class: 'row end' },
          h('button', { class: 'secondary', value: 'cancel' }, 'Cancel'),
          h('button', { class: 'danger', value: 'ok' }, yes))));
    d.addEventListener('close', () => {
      d.remove();
      resolve(d.returnValue === 'ok');
    });
    document.body.append(d);
    d.showModal();
  });
}

// field is a labelled input with room for its error message.
export function field(label, input, hint) {
  const hintEl = hint && h('p', { class: 'hint', id: `${input.id}-hint` }, hint);
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.remove();
  for (const e of form.querySelectorAll('[aria-invalid]')) {
    e.removeAttribute('aria-invalid');
    const hint = document.getElementById(`${e.id}-hint`);
    if (hint) e.setAttribute('aria-describedby', hint.id);
    else e.removeAttribute('aria-describedby');
  }
  const general = form.querySelector('.form-error');
  if (general) general.hidden = true;
}

// showErrors puts each error the API names (`body.username`) next to the
// input of that name, and the rest at the form's foot. A refusal that names
// one field (a wrong current password, a taken username) reads best as its
// detail, next to that field.
export function showErrors(form, err) {
  clearErrors(form);
  if (err.handled) return;
  const single = err.status !== 422 && err.errors.length === 1;
  const rest = [];
  let first = null;
  for (const e of err.errors) {
    const name = String(e.location || '').replace(/^body\./, '');
    const input = form.elements.namedItem(name);
    if (!(input instanceof HTMLElement) || !input.id) {
      rest.push(e.message);
      continue;
    }
    const msg = h('p', { class: 'field-error', id: `${input.id}-error` }, (single ? err.message : e.message) || 'is not valid');
    input.closest('.field').append(msg);
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), msg.id].filter(Boolean).join(' '));
    first ||= input;
  }
  const general = form.querySelector('.form-error');
  if (!first || rest.length) {
    general.textContent = rest.length ? `${err.message} ${rest.join('; ')}` : err.message;
    general.hidden = false;
  }
  (first || general).focus();
}

export const formError = () => h('p', { class: 'form-error', role: 'alert', tabindex: -1, hidden: true });

// busy disables a button while work runs, saying so to screen readers.
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// heading is a view's h1; the router moves focus to it on navigation.
export const heading = (text, cls) => h('h1', { tabindex: -1, class: cls }, text);
