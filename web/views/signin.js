// Sign in and create an account: real forms with the field names and
// autocomplete hints password managers look for. What they offer follows
// the instance: registration, reading without an account, and, on an empty
// instance, creating the admin account first.
import * as api from '../api.js';
import { h, fill, field, formError, showErrors, clearErrors, busy, heading } from '../ui.js';

function input(id, name, attrs) {
  return h('input', { id, name, required: true, autocapitalize: 'none', spellcheck: 'false', ...attrs });
}

function intro(ctx, title, tab) {
  ctx.app.title(tab);
  return [
    h('img', { class: 'logo', src: '/icon.svg', alt: '', width: 56, height: 56 }),
    heading(title),
    ctx.flash && h('p', { class: 'notice', role: 'status' }, ctx.flash),
  ];
}

// mayRegister says whether the register page has a form to offer.
const mayRegister = (instance) => instance.setup_needed || instance.registration === 'open';

export function signin(root, ctx) {
  const { instance } = ctx;
  // Nobody can sign in before the first account exists.
  if (instance.setup_needed) {
    ctx.app.go('#/register', true);
    return;
  }
  const username = input('signin-username', 'username', { autocomplete: 'username' });
  const password = input('signin-password', 'password', { type: 'password', autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, 'Sign in');
  const form = h('form', { id: 'signin-form', method: 'post', class: 'stack', onsubmit },
    field('Username', username), field('Password', password), formError(), submit);

  async function onsubmit(e) {
    e.preventDefault();
    clearErrors(form);
    await busy(submit, async () => {
      try {
        await api.signIn(username.value.trim(), password.value);
        ctx.app.signedIn();
      } catch (err) {
        showErrors(form, err);
        password.select();
      }
    });
  }

  fill(root, h('section', { class: 'auth card' },
    intro(ctx, `Sign in to ${instance.name}`, 'Sign in'), form,
    mayRegister(instance) && h('p', { class: 'alt' }, 'New here? ', h('a', { href: '#/register' }, 'Create an account')),
    instance.public_posts && h('p', { class: 'alt' }, h('button', { type: 'button', class: 'link', onclick: () => ctx.app.browse() },
      'Look around without signing in'))));
  username.focus();
}

export function register(root, ctx) {
  const { instance } = ctx;
  const setup = instance.setup_needed;
  if (!mayRegister(instance)) {
    fill(root, h('section', { class: 'auth card' },
      intro(ctx, 'Registration is closed', 'Create an account'),
      h('p', {}, `New accounts on ${instance.name} are made by its admin; ask them for one.`),
      h('p', { class: 'alt' }, 'Already have one? ', h('a', { href: '#/signin' }, 'Sign in'))));
    return;
  }
  const username = input('register-username', 'username', {
    autocomplete: 'username', minlength: 3, maxlength: 32, pattern: '[A-Za-z0-9_]{3,32}',
  });
  const display = h('input', { id: 'register-display', name: 'display_name', autocomplete: 'name', maxlength: 64 });
  const password = input('register-password', 'password', { type: 'password', autocomplete: 'new-password', minlength: 8 });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, setup ? 'Create the admin account' : 'Create account');
  const form = h('form', { id: 'register-form', method: 'post', class: 'stack', onsubmit },
    field('Username', username, '3–32 letters, digits or _'),
    field('Display name (optional)', display),
    field('Password', password, 'At least 8 characters'),
    formError(), submit);

  async function onsubmit(e) {
    e.preventDefault();
    clearErrors(form);
    await busy(submit, async () => {
      const body = { username: username.value.trim(), password: password.value };
      if (display.value.trim()) body.display_name = display.value.trim();
      try {
        await api.post('/auth/register', body);
      } catch (err) {
        if (err.status === 409) err.errors = [{ location: 'body.username' }];
        showErrors(form, err);
        return;
      }
      instance.setup_needed = false;
      try {
        await api.signIn(body.username, body.password);
        ctx.app.signedIn();
      } catch (err) {
        showErrors(form, err);
      }
    });
  }

  fill(root, h('section', { class: 'auth card' },
    intro(ctx, setup ? 'Create the admin account' : 'Create your account', setup ? 'Set up' : 'Create an account'),
    setup && h('p', { class: 'lead' },
      `${instance.name} has no accounts yet. The first one runs the instance: it manages the accounts of everyone who joins.`),
    form,
    !setup && h('p', { class: 'alt' }, 'Already have one? ', h('a', { href: '#/signin' }, 'Sign in'))));
  username.focus();
}
