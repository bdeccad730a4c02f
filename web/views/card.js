// A post card: author, time, who can see it (for its author), text with
// safe links, photo grid, like and who liked, comments inline, edit and
// delete. Used by the feed, timelines and permalinks.
import * as api from '../api.js';
import {
  h, icon, avatar, displayName, timeEl, linkify, thumbURL, report, toast, confirmDialog,
  formError, showErrors, clearErrors, busy, append, fill,
} from '../ui.js';
import { openViewer } from './viewer.js';
import { audienceBadge, audiencePicker } from './audience.js';

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
  const own = me && me.id === a.id;
  const mine = me && (own || me.is_admin);

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
  const edit = own && h('button', { type: 'button', class: 'act edit', onclick: startEdit },
    icon('edit'), h('span', { class: 'label' }, 'Edit'));
  // Who liked it, by name, under the post (WeChat's way).
  const likers = h('p', { class: 'likers', hidden: true });

  const section = h('section', { class: 'comments', id: commentsId, hidden: true, 'aria-label': 'Comments' });

  const card = h('article', { class: 'card post', 'data-post-id': post.id, 'data-created': post.created_at, 'aria-labelledby': authorId },
    h('header', { class: 'post-head' },
      h('a', { href: `#/u/${a.username}`, tabindex: -1, 'aria-hidden': 'true', class: 'avatar-link' }, avatar(a)),
      h('div', { class: 'who' },
        byline(a, authorId), ' ', h('span', { class: 'handle' }, `@${a.username}`),
        h('div', { class: 'when-line' },
          h('a', { class: 'when', href: `#/p/${post.id}` }, timeEl(post.created_at)),
          post.edited_at && h('span', { class: 'edited', title: `Edited ${new Date(post.edited_at).toLocaleString()}` }, '· Edited'),
          own && post.audience && audienceBadge(post, ctx.signal)))),
    post.content && h('div', { class: 'content' }, linkify(post.content)),
    photos(post),
    h('footer', { class: 'actions' }, like, toggle, edit, remove),
    likers,
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
    showLikers();
  }

  // The names load when the card first comes near the screen.
  async function showLikers() {
    if (count <= 0) {
      likers.hidden = true;
      return;
    }
    let page;
    try {
      page = await api.get(`/posts/${post.id}/likes?limit=3`, ctx.signal);
    } catch {
      return; // the count on the button still says it
    }
    const names = page.items.map((u) => h('a', { href: `#/u/${u.username}` }, displayName(u)));
    const others = count - names.length;
    const parts = [];
    names.forEach((n, i) => parts.push(i === 0 ? '' : i === names.length - 1 && others <= 0 ? ' and ' : ', ', n));
    if (others > 0) parts.push(` and ${others} other${others === 1 ? '' : 's'}`);
    fill(likers, icon('heart'), h('span', { class: 'sr-only' }, 'Liked by '), parts);
    likers.hidden = names.length === 0;
  }
  if (count > 0) watchOnce(card, showLikers);

  // Editing, in place: the text, which photos stay, and who can see it.
  function startEdit() {
    const prefix = `edit-${post.id}`;
    const text = h('textarea', { id: `${prefix}-content`, name: 'content', rows: 4, maxlength: 5000, value: post.content });
    let kept = [...(post.media_urls || [])];
    const keptList = h('ol', { class: 'previews', 'aria-label': 'Photos' });
    function paintKept() {
      fill(keptList, kept.map((u, i) => h('li', { class: 'preview', 'data-state': 'done' },
        h('img', { src: thumbURL(u), alt: `Photo ${i + 1}`, width: 96, height: 96, referrerpolicy: 'no-referrer' }),
        h('div', { class: 'tools' }, h('button', {
          type: 'button', class: 'icon-btn remove', 'aria-label': `Remove photo ${i + 1}`,
          onclick: () => {
            kept = kept.filter((_, j) => j !== i);
            paintKept();
            (keptList.querySelector('.remove') || text).focus();
          },
        }, icon('close'))))));
    }
    paintKept();
    const who = audiencePicker(ctx, prefix, post);
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: stopEdit }, 'Cancel');
    const form = h('form', { class: 'edit-post stack', method: 'post', 'aria-label': 'Edit post', onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(form);
      await busy(save, async () => {
        let saved;
        try {
          saved = await api.patch(`/posts/${post.id}`, { content: text.value, media_urls: kept, ...who.value() });
        } catch (err) {
          showErrors(form, err);
          return;
        }
        const next = postCard(saved, ctx, { open: !section.hidden, onRemoved });
        card.replaceWith(next);
        next.querySelector('.act.edit')?.focus();
        toast('Post saved.');
      });
    } },
    h('div', { class: 'field' }, h('label', { for: text.id }, 'Text'), text),
    kept.length > 0 && keptList,
    h('div', { class: 'field' }, h('label', { for: `${prefix}-audience` }, 'Who can see it'), who.select),
    who.extra, formError(),
    h('div', { class: 'row end' }, cancel, save));
    for (const el of card.querySelectorAll(':scope > .content, :scope > .photos, :scope > .actions')) el.hidden = true;
    card.querySelector(':scope > .actions').after(form);
    text.focus();

    function stopEdit() {
      form.remove();
      for (const el of card.querySelectorAll(':scope > .content, :scope > .photos, :scope > .actions')) el.hidden = false;
      edit.focus();
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

// watchOnce calls fn the first time el comes near the screen.
const watched = new WeakMap();
const nearScreen = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    nearScreen.unobserve(e.target);
    watched.get(e.target)?.();
    watched.delete(e.target);
  }
}, { rootMargin: '400px 0px' });

function watchOnce(el, fn) {
  watched.set(el, fn);
  nearScreen.observe(el);
}
