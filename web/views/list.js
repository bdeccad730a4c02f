// A list of post cards that follows the API's cursors as the reader
// scrolls, with loading, empty, error and end states.
import { h, fill, append } from '../ui.js';
import { postCard } from './card.js';

export function postList(ctx, load, emptyText) {
  const items = h('div', { class: 'posts' });
  const status = h('div', { class: 'list-status', role: 'status' });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const el = h('section', { class: 'post-list', 'aria-label': 'Posts', 'aria-busy': 'false' }, items, status, sentinel);
  let cursor = null;
  let state = 'idle'; // idle | loading | done | error
  let generation = 0;

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) more();
  }, { rootMargin: '0px 0px 800px 0px' });
  observer.observe(sentinel);
  ctx.signal.addEventListener('abort', () => observer.disconnect());

  function card(p) {
    return postCard(p, ctx, { onRemoved: () => items.children.length || showEmpty() });
  }

  function showEmpty() {
    fill(status, h('div', { class: 'state empty' }, h('p', {}, emptyText)));
  }

  async function more() {
    if (state !== 'idle') return;
    state = 'loading';
    const gen = generation;
    el.setAttribute('aria-busy', 'true');
    fill(status, h('p', { class: 'muted loading' }, 'Loading…'));
    try {
      const page = await load(cursor, ctx.signal);
      if (gen !== generation) return;
      for (const p of page.items) {
        if (!items.querySelector(`[data-post-id="${p.id}"]`)) append(items, card(p));
      }
      cursor = page.next_cursor;
      state = cursor ? 'idle' : 'done';
      if (!items.children.length) showEmpty();
      else if (cursor) fill(status, h('button', { type: 'button', class: 'secondary', onclick: more }, 'Load older posts'));
      else fill(status, h('p', { class: 'muted end' }, "You're all caught up."));
      if (cursor) {
        // Still in view after this page? Observing again fires at once.
        observer.unobserve(sentinel);
        observer.observe(sentinel);
      }
    } catch (err) {
      if (gen !== generation || err.name === 'AbortError' || err.handled) return;
      state = 'error';
      fill(status, h('div', { class: 'state error' },
        h('p', {}, `Couldn't load posts. ${err.message}`),
        h('button', { type: 'button', class: 'secondary', onclick: () => { state = 'idle'; more(); } }, 'Try again')));
    } finally {
      if (gen === generation) el.setAttribute('aria-busy', 'false');
    }
  }

  return {
    el,
    prepend(p) {
      if (status.querySelector('.empty')) fill(status);
      items.prepend(card(p));
    },
    // newest is the creation time of the top post, to spot newer ones.
    newest() {
      return items.firstElementChild?.dataset.created || '';
    },
    reset() {
      generation++;
      cursor = null;
      state = 'idle';
      fill(items);
      return more();
    },
  };
}
