// Circles: the member's own named lists of other members, to share posts
// with or hide them from. Nobody is told they are in one.
import * as api from '../api.js';
import {
  h, fill, append, avatar, displayName, field, formError, showErrors, clearErrors, busy, report, toast,
  confirmDialog, heading, icon,
} from '../ui.js';
import { forgetCircles } from './audience.js';

export default function circles(root, ctx) {
  ctx.app.title('Circles');
  const list = h('ul', { class: 'circle-list', 'aria-label': 'Your circles' });
  const status = h('p', { class: 'muted', role: 'status' });

  const name = h('input', { id: 'circle-name', name: 'name', maxlength: 50, required: true, autocomplete: 'off', placeholder: 'e.g. Family' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Make circle');
  const form = h('form', { id: 'circle-form', class: 'stack', method: 'post', onsubmit: async (e) => {
    e.preventDefault();
    clearErrors(form);
    await busy(create, async () => {
      try {
        const c = await api.post('/circles', { name: name.value });
        forgetCircles();
        name.value = '';
        await load();
        list.querySelector(`[data-circle-id="${c.id}"] .circle-open`)?.focus();
        toast(`Circle “${c.name}” made.`);
      } catch (err) {
        showErrors(form, err);
      }
    });
  } }, field('Name of a new circle', name, 'Only you see your circles and who is in them.'), formError(), h('div', { class: 'row end' }, create));

  async function load() {
    status.textContent = 'Loading…';
    try {
      const { items } = await api.get('/circles', ctx.signal);
      fill(list, items.map(circleItem));
      status.textContent = items.length ? '' : 'No circles yet. Make one for family, friends or a club, then choose it when you post.';
    } catch (err) {
      if (err.name === 'AbortError' || err.handled) return;
      status.textContent = `Couldn't load your circles. ${err.message}`;
    }
  }

  function circleItem(c) {
    const panelId = `circle-${c.id}-members`;
    const count = h('span', { class: 'muted small' }, members(c.member_count));
    const title = h('span', { class: 'circle-name' }, c.name);
    const open = h('button', {
      type: 'button', class: 'circle-open', 'aria-expanded': 'false', 'aria-controls': panelId,
      onclick: () => {
        const show = panel.hidden;
        panel.hidden = !show;
        open.setAttribute('aria-expanded', String(show));
        if (show && !panel.dataset.loaded) membersPanel(c, panel, (n) => { c.member_count = n; count.textContent = members(n); });
      },
    }, icon('people'), title, count);
    const rename = h('button', { type: 'button', class: 'act', onclick: () => renameCircle(c, item, title) },
      icon('edit'), h('span', { class: 'label' }, 'Rename'), h('span', { class: 'sr-only' }, ` ${c.name}`));
    const remove = h('button', {
      type: 'button', class: 'act delete', onclick: async () => {
        const ok = await confirmDialog(`Delete the circle “${c.name}”? Posts shown only to it will be seen by you alone; posts hidden from it will be seen by its members again.`);
        if (!ok) return;
        try {
          await api.del(`/circles/${c.id}`);
        } catch (err) {
          report(err, "Couldn't delete the circle");
          return;
        }
        forgetCircles();
        const next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        toast(`Circle “${c.name}” deleted.`);
        (next?.querySelector('.circle-open') || name).focus();
        if (!list.children.length) load();
      },
    }, icon('trash'), h('span', { class: 'label' }, 'Delete'), h('span', { class: 'sr-only' }, ` ${c.name}`));
    const panel = h('div', { class: 'circle-members', id: panelId, hidden: true });
    const item = h('li', { class: 'card circle', 'data-circle-id': c.id },
      h('div', { class: 'row' }, open, h('span', { class: 'grow' }), rename, remove), panel);
    return item;
  }

  async function renameCircle(c, item, title) {
    const input = h('input', { id: `circle-${c.id}-name`, name: 'name', maxlength: 50, required: true, value: c.name });
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { f.remove(); item.querySelector('.circle-open').focus(); } }, 'Cancel');
    const f = h('form', { class: 'stack rename', method: 'post', onsubmit: async (e) => {
      e.preventDefault();
      clearErrors(f);
      await busy(save, async () => {
        try {
          const got = await api.patch(`/circles/${c.id}`, { name: input.value });
          c.name = got.name;
          title.textContent = got.name;
          forgetCircles();
          f.remove();
          item.querySelector('.circle-open').focus();
        } catch (err) {
          showErrors(f, err);
        }
      });
    } }, field('New name', input), formError(), h('div', { class: 'row end' }, cancel, save));
    item.querySelector(':scope > .row').after(f);
    input.focus();
    input.select();
  }

  append(root,
    heading('Circles'),
    h('section', { class: 'card', 'aria-labelledby': 'circles-new' }, h('h2', { id: 'circles-new' }, 'New circle'), form),
    h('section', { 'aria-labelledby': 'circles-yours' }, h('h2', { id: 'circles-yours', class: 'section-title' }, 'Your circles'), status, list));
  load();

  // membersPanel lists a circle's members with a search to add more.
  function membersPanel(c, panel, setCount) {
    panel.dataset.loaded = '1';
    const people = h('ul', { class: 'member-list' });
    const more = h('button', { type: 'button', class: 'link', hidden: true, onclick: () => page() }, 'Show more');
    const note = h('p', { class: 'muted small', role: 'status' });
    let cursor = null;
    let n = c.member_count;
    const inCircle = new Set();

    function person(u) {
      inCircle.add(u.username.toLowerCase());
      const li = h('li', { class: 'member' }, avatar(u, 'sm'),
        h('a', { href: `#/u/${u.username}` }, displayName(u)), h('span', { class: 'handle' }, ` @${u.username}`),
        h('span', { class: 'grow' }),
        h('button', {
          type: 'button', class: 'link', onclick: async () => {
            try {
              await api.del(`/circles/${c.id}/members/${u.username}`);
            } catch (err) {
              report(err, "Couldn't take them out");
              return;
            }
            forgetCircles();
            inCircle.delete(u.username.toLowerCase());
            const next = li.nextElementSibling?.querySelector('button') || search;
            li.remove();
            setCount(--n);
            note.textContent = `${displayName(u)} is out of “${c.name}”.`;
            next.focus();
          },
        }, 'Remove', h('span', { class: 'sr-only' }, ` ${displayName(u)}`)));
      return li;
    }

    async function page() {
      try {
        const got = await api.get(api.page(`/circles/${c.id}/members`, cursor, 50), ctx.signal);
        append(people, got.items.map(person));
        cursor = got.next_cursor;
        more.hidden = !cursor;
        if (!people.children.length) note.textContent = 'No one in this circle yet.';
      } catch (err) {
        if (err.name !== 'AbortError' && !err.handled) note.textContent = `Couldn't load the members. ${err.message}`;
      }
    }

    const searchId = `circle-${c.id}-search`;
    const found = h('ul', { class: 'search-results', id: `${searchId}-results`, 'aria-label': 'Members found' });
    let asked = 0;
    const search = h('input', {
      id: searchId, name: 'q', type: 'search', autocomplete: 'off', maxlength: 64, placeholder: 'Name or @username',
      'aria-controls': found.id,
      oninput: async () => {
        const q = search.value.trim().replace(/^@/, '');
        const mine = ++asked;
        if (!q) {
          fill(found);
          return;
        }
        let got;
        try {
          got = await api.get(`/users?q=${encodeURIComponent(q)}&limit=8`, ctx.signal);
        } catch (err) {
          if (err.name !== 'AbortError' && !err.handled) fill(found, h('li', { class: 'muted small' }, err.message));
          return;
        }
        if (mine !== asked) return; // a later search answered first
        const others = got.items.filter((u) => u.id !== ctx.me.id);
        fill(found, others.length ? others.map((u) => h('li', {},
          h('button', {
            type: 'button', class: 'found', disabled: inCircle.has(u.username.toLowerCase()),
            onclick: async (e) => {
              const button = e.currentTarget;
              try {
                await api.put(`/circles/${c.id}/members/${u.username}`);
              } catch (err) {
                report(err, "Couldn't add them");
                return;
              }
              forgetCircles();
              if (!inCircle.has(u.username.toLowerCase())) {
                people.prepend(person(u));
                setCount(++n);
              }
              button.disabled = true;
              note.textContent = `${displayName(u)} is in “${c.name}”.`;
              search.focus();
            },
          }, avatar(u, 'sm'), ` ${displayName(u)} `, h('span', { class: 'handle' }, `@${u.username}`),
          inCircle.has(u.username.toLowerCase()) && h('span', { class: 'muted small' }, ' (in the circle)')))) : h('li', { class: 'muted small' }, 'No member by that name.'));
      },
    });
    append(panel,
      h('div', { class: 'field' }, h('label', { for: searchId }, `Add someone to “${c.name}”`), search), found,
      note, people, more);
    page();
    search.focus();
  }
}

const members = (n) => `${n} member${n === 1 ? '' : 's'}`;
