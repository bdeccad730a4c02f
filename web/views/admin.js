// Administration: every account, with promote/demote and disable/enable
// for everyone but oneself.
import * as api from '../api.js';
import { h, fill, append, avatar, displayName, confirmDialog, report, toast, heading } from '../ui.js';

export default function admin(root, ctx) {
  ctx.app.title('Admin');
  const { me } = ctx;
  const list = h('ul', { class: 'users' });
  const status = h('div', { class: 'list-status', role: 'status' });
  append(root, heading('Admin'), h('section', { class: 'card', 'aria-labelledby': 'admin-users' },
    h('h2', { id: 'admin-users' }, 'Accounts'), list, status));
  if (!me.is_admin) {
    fill(status, h('p', { class: 'state error' }, 'Only admins can see this page.'));
    return;
  }

  function row(u) {
    const li = h('li', { class: 'user', 'data-user-id': u.id });
    paint(li, u);
    return li;
  }

  // An admin's own row offers neither demoting nor disabling: the server
  // refuses both (409), as either could leave the instance without an admin.
  function paint(li, u) {
    const self = u.id === me.id;
    fill(li,
      avatar(u),
      h('div', { class: 'who' },
        h('a', { class: 'author', href: `#/u/${u.username}` }, displayName(u)),
        h('span', { class: 'handle' }, ` @${u.username}`, self && ' (you)'),
        h('p', {}, u.is_admin && h('span', { class: 'badge' }, 'Admin'), u.disabled && h('span', { class: 'badge warn' }, 'Disabled'))),
      !self && h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', onclick: (e) => update(li, u, { is_admin: !u.is_admin }, e.currentTarget) },
          u.is_admin ? 'Remove admin' : 'Make admin'),
        h('button', { type: 'button', class: u.disabled ? 'secondary' : 'danger', onclick: (e) => update(li, u, { disabled: !u.disabled }, e.currentTarget) },
          u.disabled ? 'Enable' : 'Disable')));
  }

  async function update(li, u, change, button) {
    const who = `@${u.username}`;
    if (change.disabled && !(await confirmDialog(`Disable ${who}? They are signed out at once and cannot sign in until enabled again.`, 'Disable'))) return;
    button.disabled = true;
    try {
      const next = await api.patch(`/admin/users/${u.id}`, change);
      paint(li, next);
      li.querySelector('button')?.focus();
      toast(`${who} updated.`);
    } catch (err) {
      button.disabled = false;
      report(err, `Couldn't update ${who}`);
    }
  }

  let cursor = null;
  async function load() {
    fill(status, h('p', { class: 'muted loading' }, 'Loading…'));
    try {
      const page = await api.get(api.page('/admin/users', cursor, 50), ctx.signal);
      append(list, page.items.map(row));
      cursor = page.next_cursor;
      fill(status, cursor && h('button', { type: 'button', class: 'secondary', onclick: load }, 'Show more accounts'));
    } catch (err) {
      if (err.name === 'AbortError' || err.handled) return;
      fill(status, h('div', { class: 'state error' }, h('p', {}, err.message),
        h('button', { type: 'button', class: 'secondary', onclick: load }, 'Try again')));
    }
  }
  load();
}
