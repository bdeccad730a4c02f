// The feed: the composer, everyone's posts newest first with infinite
// scroll, and a "new posts" button when others have posted since.
import * as api from '../api.js';
import { h, fill, append, icon, heading } from '../ui.js';
import { composer } from './composer.js';
import { postList } from './list.js';

const CHECK_EVERY = 30_000;

export default function feed(root, ctx) {
  ctx.app.title();
  const list = postList(ctx, (cursor, signal) => api.get(api.page('/posts', cursor), signal),
    ctx.me ? 'No moments yet. Share the first one!' : 'No moments yet.');

  const fresh = h('button', { type: 'button', class: 'new-posts', hidden: true, onclick: showNew });
  async function showNew() {
    fresh.hidden = true;
    window.scrollTo({ top: 0, behavior: 'smooth' });
    await list.reset();
    root.querySelector('.post a.author')?.focus({ preventScroll: true });
  }

  async function check() {
    if (document.hidden || ctx.signal.aborted) return;
    let page;
    try {
      page = await api.get(api.page('/posts', null), ctx.signal);
    } catch {
      return; // a failed background check is not worth a message
    }
    const top = Date.parse(list.newest()) || 0;
    const n = page.items.filter((p) => Date.parse(p.created_at) > top && !root.querySelector(`[data-post-id="${p.id}"]`)).length;
    if (!n) return;
    fill(fresh, icon('up'), `${n}${page.next_cursor && n === page.items.length ? '+' : ''} new post${n === 1 ? '' : 's'}`);
    fresh.hidden = false;
  }
  const timer = setInterval(check, CHECK_EVERY);
  const onVisible = () => document.hidden || check();
  document.addEventListener('visibilitychange', onVisible);
  ctx.signal.addEventListener('abort', () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  });

  append(root,
    heading(ctx.instance.name, 'sr-only'),
    ctx.me && composer(ctx, (p) => list.prepend(p)),
    fresh,
    list.el,
  );
}
