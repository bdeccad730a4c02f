// A post's permalink: the card with its comments open.
import * as api from '../api.js';
import { h, fill, append, heading } from '../ui.js';
import { postCard } from './card.js';

export default function post(root, ctx) {
  const [id] = ctx.params;
  ctx.app.title('Post');
  const title = heading('Post', 'sr-only');
  const body = h('div', { class: 'permalink', 'aria-busy': 'true' }, h('p', { class: 'muted loading' }, 'Loading…'));
  append(root, h('p', { class: 'back' }, h('a', { href: '#/' }, '← Feed')), title, body);

  api.get(`/posts/${id}`, ctx.signal).then((p) => {
    const who = p.author.display_name || p.author.username;
    title.textContent = `Post by ${who}`;
    ctx.app.title(`${who}: ${Array.from(p.content).slice(0, 40).join('')}`);
    fill(body, postCard(p, ctx, { open: true, onRemoved: () => ctx.app.go('#/') }));
  }, (err) => {
    if (err.name === 'AbortError' || err.handled) return;
    fill(body, h('div', { class: 'state error' },
      h('p', {}, err.status === 404 ? 'This post does not exist, or it was deleted.' : `Couldn't load the post. ${err.message}`),
      h('p', {}, h('a', { href: '#/' }, 'Back to the feed'))));
  }).finally(() => body.setAttribute('aria-busy', 'false'));
}
