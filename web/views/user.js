// A user's timeline under their profile header.
import * as api from '../api.js';
import { h, fill, append, avatar, displayName, heading } from '../ui.js';
import { postList } from './list.js';

export default function user(root, ctx) {
  const [username] = ctx.params;
  ctx.app.title(`@${username}`);
  const title = heading(`@${username}`);
  let pic = avatar({ username }, 'lg');
  const details = h('div', { class: 'details' });
  const list = postList(ctx, (cursor, signal) => api.get(api.page(`/users/${username}/posts`, cursor), signal),
    `@${username} has not posted anything yet.`);
  append(root, h('header', { class: 'card profile' }, pic, h('div', { class: 'who' }, title, details)), list.el);

  api.get(`/users/${username}`, ctx.signal).then((u) => {
    const name = displayName(u);
    ctx.app.title(`${name} (@${u.username})`);
    title.textContent = name;
    const joined = new Date(u.created_at).toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
    const next = avatar(u, 'lg');
    pic.replaceWith(next);
    pic = next;
    fill(details,
      h('p', { class: 'handle' }, `@${u.username}`, u.is_admin && h('span', { class: 'badge' }, 'Admin')),
      u.bio && h('p', { class: 'bio' }, u.bio),
      h('p', { class: 'muted small' }, `Joined ${joined}`),
      ctx.me?.id === u.id && h('p', {}, h('a', { href: '#/settings', class: 'button secondary' }, 'Edit profile')));
  }, (err) => {
    if (err.name === 'AbortError' || err.handled) return;
    if (err.status === 404) list.el.remove();
    fill(details, h('p', { class: 'state error' },
      err.status === 404 ? 'There is no one by that name here.' : `Couldn't load the profile. ${err.message}`));
  });
}
