// A post card: author, time, text with safe links, photo grid, like,
// comments inline, delete. Used by the feed, timelines and permalinks.
import * as api from '../api.js';
import {
  h, icon, avatar, displayName, timeEl, linkify, thumbURL, report, toast, confirmDialog,
  formError, showErrors, clearErrors, busy, append,
} from '../ui.js';
import { openViewer } from './viewer.js';

function byline(a, id) {
  return h('a', { class: 'author', href: `#/u/${a.username}`, id }, displayName(a));
}

function photos(post) {
  const urls = post.media_urls || [];
  if (!urls.length) return null;
  const n = urls.length;
  const who = displayName(post.author);
  const grid = n === 1 ? 'one' : n === 2 || n === 4 ? 'two' : 'three';
  return h('div', { class: `photos ${grid}` }, urls.map((u, i) => h('button', {
    type: 'button', class: 'thumb', title: 'View full size',
    onclick: (e) => openViewer(urls, i, who, e.currentTarget),
  }, h('img', {
    src: thumbURL(u), alt: n === 1 ? `Photo by ${who}` : `Photo ${i + 1} of ${n} by ${who}`,
    loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer',
    onerror: (e) => e.target.closest('.thumb').classList.add('broken'),
  }))));
}

export function postCard(post, ctx, { open = false, onRemoved } = {}) {
  const { me } = ctx;
  const a = post.author;
  const authorId = `post-${post.id}-author`;
  const mine = me && (me.id === a.id || me.is_admin);

  const likeCount = h('span', { class: 'n' }, post.like_count);
  const like = h('button', {
    type: 'button', class: 'act like', 'aria-pressed': String(post.liked_by_me),
    disabled: !me, title: me ? null : 'Sign in to like', onclick: toggleLike,
  }, icon('heart'), h('span', { class: 'sr-only' }, 'Like'), likeCount);

  const commentCount = h('span', { class: 'n' }, post.comment_count);
  const commentsId = `post-${post.id}-comments`;
  const toggle = h('button', {
    type: 'button', class: 'act comments-toggle', 'aria-expanded': 'false', 'aria-controls': commentsId,
    onclick: () => (section.hidden ? expand(true) : collapse()),
  }, icon('comment'), h('span', { class: 'sr-only' }, 'Comments'), commentCount);

  const remove = mine && h('button', { type: 'button', class: 'act delete', onclick: deletePost },
    icon('trash'), h('span', { class: 'label' }, 'Delete'));

  const section = h('section', { class: 'comments', id: commentsId, hidden: true, 'aria-label': 'Comments' });

  const card = h('article', { class: 'card post', 'data-post-id': post.id, 'data-created': post.created_at, 'aria-labelledby': authorId },
    h('header', { class: 'post-head' },
      h('a', { href: `#/u/${a.username}`, tabindex: -1, 'aria-hidden': 'true', class: 'avatar-link' }, avatar(a)),
      h('div', { class: 'who' },
        byline(a, authorId), ' ', h('span', { class: 'handle' }, `@${a.username}`),
        h('a', { class: 'when', href: `#/p/${post.id}` }, timeEl(post.created_at)))),
    h('div', { class: 'content' }, linkify(post.content)),
    photos(post),
    h('footer', { class: 'actions' }, like, toggle, remove),
    section);

  // Likes are optimistic: the button changes at once, requests follow in
  // order until the server agrees, and an error rolls back to what the
  // server last confirmed.
  let confirmed = post.liked_by_me;
  let wanted = confirmed;
  let count = post.like_count;
  let sending = false;
  function paintLike() {
    like.setAttribute('aria-pressed', String(wanted));
    likeCount.textContent = count;
  }
  async function toggleLike() {
    wanted = !wanted;
    count += wanted ? 1 : -1;
    paintLike();
    if (sending) return;
    sending = true;
    like.setAttribute('aria-busy', 'true');
    try {
      while (confirmed !== wanted) {
        const w = wanted;
        await api.call(w ? 'PUT' : 'DELETE', `/posts/${post.id}/like`);
        confirmed = w;
      }
    } catch (err) {
      count += (confirmed ? 1 : 0) - (wanted ? 1 : 0);
      wanted = confirmed;
      paintLike();
      report(err, "Couldn't save the like");
    } finally {
      sending = false;
      like.removeAttribute('aria-busy');
    }
  }

  async function deletePost() {
    if (!(await confirmDialog('Delete this post? Its likes and comments go with it.'))) return;
    try {
      await api.del(`/posts/${post.id}`);
    } catch (err) {
      report(err, "Couldn't delete the post");
      return;
    }
    const next = card.nextElementSibling;
    card.remove();
    toast('Post deleted.');
    if (onRemoved) onRemoved(post);
    else next?.querySelector('a.author')?.focus();
  }

  // Comments load when first shown.
  let loaded = false;
  let comments = 0;
  function setCount(n) {
    comments = n;
    commentCount.textContent = n;
  }
  setCount(post.comment_count);

  function collapse() {
    section.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
  }

  function expand(focus) {
    section.hidden = false;
    toggle.setAttribute('aria-expanded', 'true');
    if (!loaded) {
      loaded = true;
      buildComments(focus);
    } else if (focus) section.querySelector('input')?.focus();
  }

  function buildComments(focus) {
    const list = h('ol', { class: 'comment-list' });
    const more = h('button', { type: 'button', class: 'link more', hidden: true, onclick: () => load() }, 'Show more comments');
    const status = h('p', { class: 'muted small', role: 'status' });
    let cursor = null;
    const seen = new Set();

    function item(c) {
      seen.add(c.id);
      const canDelete = me && (me.id === c.author.id || me.id === a.id || me.is_admin);
      const li = h('li', { class: 'comment', 'data-comment-id': c.id },
        avatar(c.author, 'sm'),
        h('div', { class: 'comment-body' },
          h('p', { class: 'meta' }, byline(c.author), ' ', timeEl(c.created_at)),
          h('p', { class: 'text' }, linkify(c.content))),
        canDelete && h('button', {
          type: 'button', class: 'icon-btn delete', 'aria-label': 'Delete comment', title: 'Delete comment',
          onclick: async () => {
            if (!(await confirmDialog('Delete this comment?'))) return;
            try {
              await api.del(`/comments/${c.id}`);
              li.remove();
              setCount(Math.max(0, comments - 1));
              input.focus();
            } catch (err) {
              report(err, "Couldn't delete the comment");
            }
          },
        }, icon('trash')));
      return li;
    }

    async function load() {
      status.textContent = 'Loading comments…';
      more.hidden = true;
      try {
        const page = await api.get(api.page(`/posts/${post.id}/comments`, cursor, 50), ctx.signal);
        for (const c of page.items) if (!seen.has(c.id)) append(list, item(c));
        cursor = page.next_cursor;
        more.hidden = !cursor;
        status.textContent = list.children.length ? '' : 'No comments yet.';
      } catch (err) {
        if (err.name === 'AbortError' || err.handled) return;
        status.textContent = `Couldn't load the comments: ${err.message}`;
        more.textContent = 'Try again';
        more.hidden = false;
      }
    }

    const inputId = `post-${post.id}-comment`;
    const input = h('input', {
      id: inputId, name: 'content', autocomplete: 'off', maxlength: 1000, required: true,
      placeholder: 'Add a comment…', enterkeyhint: 'send',
    });
    const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
    const form = me && h('form', { class: 'comment-form', method: 'post', onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      if (!input.value.trim()) return;
      await busy(send, async () => {
        try {
          const c = await api.post(`/posts/${post.id}/comments`, { content: input.value });
          append(list, item(c));
          status.textContent = '';
          setCount(comments + 1);
          input.value = '';
        } catch (err) {
          showErrors(form, err);
        }
      });
      input.focus();
    } },
    h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: inputId, class: 'sr-only' }, 'Add a comment'), input),
      send),
    formError());

    append(section, list, more, status, form);
    load();
    if (focus && form) input.focus();
  }

  if (open) expand(false);
  return card;
}
