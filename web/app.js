// The app shell: hash routes, who is signed in, the header, and the view on
// screen. Each view is a module whose default export renders into <main>.
import * as api from './api.js';
import { $, h, fill, avatar, toast, report } from './ui.js';
import feed from './views/feed.js';
import post from './views/post.js';
import user from './views/user.js';
import settings from './views/settings.js';
import admin from './views/admin.js';
import circles from './views/circles.js';
import { signin, register } from './views/signin.js';

const ROUTES = [
  [/^\/$/, feed],
  [/^\/p\/(\d+)$/, post],
  [/^\/u\/(\w{3,32})$/, user],
  [/^\/settings$/, settings, 'auth'],
  [/^\/circles$/, circles, 'auth'],
  [/^\/admin$/, admin, 'auth'],
  [/^\/signin$/, signin, 'guest'],
  [/^\/register$/, register, 'guest'],
];

const main = $('#main');
let me = null; // the signed-in user, from /users/me
let controller = null; // aborted when the view goes
let flash = ''; // a message for the next view
let first = true;

// What the server offers (GET /instance), asked once at start. Until it
// answers, or if it cannot, the UI offers only what every instance has.
const instance = {
  name: 'Moments', registration: 'closed', public_posts: false, assistant: false,
  max_upload_bytes: 0, max_upload_pixels: 0, setup_needed: false,
};

// Reading without an account works only where the server allows it; the
// sign-in page offers it and a 401 ends it.
const ANON = 'moments.anon';
const anonymous = () => instance.public_posts && sessionStorage.getItem(ANON) === '1';

const NEXT = 'moments.next';

function go(hash, replace = false) {
  if (location.hash === hash) route();
  else if (replace) {
    history.replaceState(null, '', hash);
    route();
  } else location.hash = hash;
}

function toSignIn(message) {
  const here = location.hash;
  if (here && !/^#\/(signin|register)/.test(here)) sessionStorage.setItem(NEXT, here);
  flash = message || '';
  go('#/signin', true);
}

const app = {
  go,
  instance,
  // title names the page in the browser's tab: "Settings · Moments".
  title(part) {
    document.title = part ? `${part} · ${instance.name}` : instance.name;
  },
  get me() {
    return me;
  },
  setMe(u) {
    me = u;
    header();
  },
  signedIn() {
    me = null;
    sessionStorage.removeItem(ANON);
    const next = sessionStorage.getItem(NEXT);
    sessionStorage.removeItem(NEXT);
    go(next && next.startsWith('#/') ? next : '#/', true);
  },
  signOut(message) {
    api.forget();
    fill($('#toasts')); // what was said to this account is not for the next
    me = null;
    sessionStorage.removeItem(NEXT);
    sessionStorage.removeItem(ANON);
    flash = message || '';
    go('#/signin', true);
  },
  browse() {
    sessionStorage.setItem(ANON, '1');
    go('#/', true);
  },
};

api.onUnauthorized((hadSession) => {
  me = null;
  sessionStorage.removeItem(ANON);
  toSignIn(hadSession ? 'Your session has ended. Please sign in again.' : 'Sign in to see the moments here.');
});

window.addEventListener('storage', (e) => {
  if (e.key !== null && e.key !== api.SESSION_KEY) return; // null: storage cleared
  api.reload();
  me = null;
  if (api.signedIn()) {
    if (/^#\/(signin|register)/.test(location.hash)) go('#/', true);
    else route();
  } else toSignIn();
});

function header() {
  const here = location.hash || '#/';
  const link = (href, label, ...extra) =>
    h('a', { href, 'aria-current': here === href ? 'page' : null }, ...extra, h('span', { class: 'label' }, label));
  const nav = $('#nav');
  if (me) {
    fill(nav,
      link('#/', 'Feed'),
      link('#/circles', 'Circles'),
      me.is_admin && link('#/admin', 'Admin'),
      link('#/settings', 'Settings'),
      h('a', { href: `#/u/${me.username}`, class: 'me', 'aria-current': here === `#/u/${me.username}` ? 'page' : null },
        avatar(me, 'sm'), h('span', { class: 'sr-only' }, 'Your profile')),
    );
  } else if (api.signedIn()) {
    fill(nav);
  } else {
    // Before the first account exists there is no one to sign in as.
    fill(nav, !instance.setup_needed && link('#/signin', 'Sign in'));
  }
}

async function route() {
  const [path] = (location.hash.slice(1) || '/').split('?');
  const match = ROUTES.find(([re]) => re.test(path));
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  // A photo viewer or a question belongs to the view that is going.
  for (const d of document.querySelectorAll('dialog[open]')) d.close();

  if (match) {
    const kind = match[2];
    const authed = api.signedIn();
    if (!authed && kind !== 'guest' && (kind === 'auth' || !anonymous())) {
      toSignIn();
      return;
    }
    if (authed && kind === 'guest') {
      go('#/', true);
      return;
    }
    if (authed && !me) {
      try {
        me = await api.get('/users/me', signal);
      } catch (err) {
        if (signal.aborted || err.handled) return;
        header();
        fill(main, h('section', { class: 'state error' },
          h('h1', { tabindex: -1 }, "Moments can't load right now"),
          h('p', {}, err.message),
          h('button', { type: 'button', onclick: route }, 'Try again')));
        return;
      }
      if (signal.aborted) return;
    }
  }

  header();
  fill(main);
  main.classList.toggle('narrow', Boolean(match && match[2] === 'guest'));
  const message = flash;
  flash = '';
  const ctx = { app, me, instance, signal, params: match ? path.match(match[0]).slice(1) : [], flash: message };
  try {
    if (match) match[1](main, ctx);
    else notFound(main);
  } catch (err) {
    report(err);
  }
  if (!first) {
    window.scrollTo(0, 0);
    if (!main.contains(document.activeElement)) $('h1', main)?.focus({ preventScroll: true });
  }
  first = false;
}

function notFound(root) {
  app.title('Not found');
  fill(root, h('section', { class: 'state' },
    h('h1', { tabindex: -1 }, 'There is nothing here'),
    h('p', {}, h('a', { href: '#/' }, 'Back to the feed'))));
}

$('.skip').addEventListener('click', () => $('h1', main)?.focus());
window.addEventListener('hashchange', route);
window.addEventListener('offline', () => toast('You are offline; changes will fail until the connection is back.', 'error'));

async function start() {
  try {
    Object.assign(instance, await api.instance());
  } catch { /* offer the defaults; the views say what fails */ }
  $('.brand span').textContent = instance.name;
  route();
}
start();
