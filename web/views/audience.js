// Who can see a post: the audience control of the composer and of the edit
// form, and the label each post shows its author. The values are the API's
// own (members, circles, only_me, public); the server decides, this only
// asks.
import * as api from '../api.js';
import { h, fill, icon } from '../ui.js';

// The signed-in member's circles, asked once per page load and forgotten
// when the Circles page changes them.
let circles = null;

export function myCircles(signal) {
  circles ||= api.get('/circles', signal).then((r) => r.items, (err) => {
    circles = null;
    throw err;
  });
  return circles;
}

export function forgetCircles() {
  circles = null;
}

const CHOICES = [
  ['members', 'All members'],
  ['circles', 'My circles…'],
  ['only_me', 'Only me'],
  ['public', 'Everyone, also visitors'],
];

// audienceLabel is what a post's author reads about who sees it; names are
// the author's circles by ID.
export function audienceLabel(post, names = new Map()) {
  const named = (ids) => ids.map((id) => names.get(id)).filter(Boolean);
  switch (post.audience) {
    case 'only_me':
      return 'Only me';
    case 'public':
      return 'Everyone';
    case 'circles': {
      const ids = post.circle_ids || [];
      if (!ids.length) return 'Only me (its circles were deleted)';
      const n = named(ids);
      return n.length === ids.length ? n.join(', ') : `${ids.length} circle${ids.length === 1 ? '' : 's'}`;
    }
    default: {
      const hidden = post.hidden_from || [];
      if (!hidden.length) return 'All members';
      const n = named(hidden);
      return `All members but ${n.length === hidden.length ? n.join(', ') : `${hidden.length} circle${hidden.length === 1 ? '' : 's'}`}`;
    }
  }
}

const ICON = { only_me: 'lock', circles: 'people', public: 'globe', members: 'members' };

// audienceBadge shows the post's author who sees it: an icon and words,
// read out as "Visible to: …".
export function audienceBadge(post, signal) {
  const text = h('span', { class: 'audience-text' }, audienceLabel(post));
  const badge = h('span', { class: `audience-badge ${post.audience}`, 'data-audience': post.audience },
    icon(ICON[post.audience] || 'members'), h('span', { class: 'sr-only' }, 'Visible to: '), text);
  if ((post.circle_ids?.length || post.hidden_from?.length)) {
    myCircles(signal).then((list) => {
      text.textContent = audienceLabel(post, new Map(list.map((c) => [c.id, c.name])));
    }, () => { /* the count stays */ });
  }
  return badge;
}

// audiencePicker is the control: a select of the audiences the instance
// offers, and for circles (or members with exceptions) the member's
// circles to tick. value() is what POST or PATCH /posts takes; start is a
// post (or {audience} alone) to begin from.
export function audiencePicker(ctx, prefix, start) {
  const id = `${prefix}-audience`;
  const select = h('select', { id, name: 'audience', class: 'audience-select' },
    CHOICES.filter(([v]) => v !== 'public' || ctx.instance.public_posts || start.audience === 'public')
      .map(([v, label]) => h('option', { value: v }, label)));
  select.value = start.audience || 'members';

  const shown = new Set(start.circle_ids || []);
  const hidden = new Set(start.hidden_from || []);
  const showList = h('div', { class: 'circle-choices' });
  const hideList = h('div', { class: 'circle-choices' });
  // The fieldsets carry the API's field names, so that a refusal naming
  // body.circle_ids or body.hidden_from is shown next to them.
  const showSet = h('fieldset', { class: 'field circle-pick', id: `${prefix}-circle_ids`, name: 'circle_ids', tabindex: -1 },
    h('legend', {}, 'Show it to these circles'), showList);
  const hideToggle = h('button', {
    type: 'button', class: 'link', 'aria-expanded': String(hidden.size > 0), 'aria-controls': `${prefix}-hide`,
    onclick: () => {
      hideSet.hidden = !hideSet.hidden;
      hideToggle.setAttribute('aria-expanded', String(!hideSet.hidden));
      if (!hideSet.hidden) load().then(() => hideSet.querySelector('input')?.focus());
    },
  }, 'Hide from some circles…');
  const hideSet = h('fieldset', {
    class: 'field circle-pick', id: `${prefix}-hide`, name: 'hidden_from', tabindex: -1, hidden: hidden.size === 0,
  }, h('legend', {}, 'Hide it from these circles'), hideList);
  const extra = h('div', { class: 'audience-extra' }, showSet, hideToggle, hideSet);

  function boxes(list, name, chosen) {
    return list.map((c) => {
      const boxId = `${prefix}-${name}-${c.id}`;
      const box = h('input', {
        type: 'checkbox', id: boxId, 'data-circle': c.id, checked: chosen.has(c.id),
        onchange: () => (box.checked ? chosen.add(c.id) : chosen.delete(c.id)),
      });
      return h('label', { class: 'check', for: boxId }, box, ` ${c.name}`,
        h('span', { class: 'muted small' }, ` (${c.member_count})`));
    });
  }

  let loaded = false;
  async function load() {
    if (loaded) return;
    loaded = true;
    fill(showList, h('p', { class: 'muted small' }, 'Loading your circles…'));
    let list;
    try {
      list = await myCircles(ctx.signal);
    } catch (err) {
      loaded = false;
      fill(showList, h('p', { class: 'muted small' }, `Couldn't load your circles. ${err.message || ''}`));
      return;
    }
    const none = h('p', { class: 'muted small' }, 'You have no circles yet. ', h('a', { href: '#/circles' }, 'Make one'), '.');
    fill(showList, list.length ? boxes(list, 'circle', shown) : none);
    fill(hideList, list.length ? boxes(list, 'hide', hidden) : none.cloneNode(true));
  }

  // "Hide from" is offered once it is known there are circles to hide from.
  let hasCircles = hidden.size > 0;
  myCircles(ctx.signal).then((list) => {
    hasCircles = list.length > 0;
    paint();
  }, () => { /* offered when the circles load */ });

  function paint() {
    const v = select.value;
    showSet.hidden = v !== 'circles';
    hideToggle.hidden = v !== 'members' || !hasCircles;
    if (v !== 'members') hideSet.hidden = true;
    extra.hidden = v !== 'circles' && v !== 'members';
    return v === 'circles' || !hideSet.hidden ? load() : Promise.resolve();
  }
  select.addEventListener('change', () => paint());
  paint();

  return {
    select,
    extra,
    value() {
      const v = select.value;
      if (v === 'circles') return { audience: v, circle_ids: [...shown] };
      if (v === 'members') return { audience: v, hidden_from: hideSet.hidden ? [] : [...hidden] };
      return { audience: v };
    },
    reset(audience) {
      select.value = audience;
      shown.clear();
      hidden.clear();
      for (const b of extra.querySelectorAll('input[type=checkbox]')) b.checked = false;
      hideSet.hidden = true;
      hideToggle.setAttribute('aria-expanded', 'false');
      paint();
    },
  };
}
