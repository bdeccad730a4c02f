// Settings: profile (display name, bio, avatar), privacy (how far back
// others see your posts, the audience of a new post), password, sign out.
import * as api from '../api.js';
import {
  h, append, avatar, field, formError, showErrors, clearErrors, busy, report, heading, bytes, uploading,
} from '../ui.js';

export default function settings(root, ctx) {
  const { me, app, instance } = ctx;
  app.title('Settings');

  // Profile.
  const name = h('input', { id: 'settings-display', name: 'display_name', maxlength: 64, autocomplete: 'name', value: me.display_name || '' });
  const bio = h('textarea', { id: 'settings-bio', name: 'bio', rows: 3, maxlength: 500, value: me.bio || '' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save profile');
  // The confirmation sits beside the button it answers: a toast would
  // cover the password form on a phone.
  const saved = h('p', { class: 'saved', role: 'status', id: 'profile-saved' });
  const profile = h('form', { id: 'profile-form', method: 'post', class: 'stack', onsubmit: saveProfile, oninput: () => { saved.textContent = ''; } },
    field('Display name', name, `Shown on your posts; empty shows @${me.username}`),
    field('About you', bio),
    formError(), h('div', { class: 'row end' }, saved, save));

  async function saveProfile(e) {
    e.preventDefault();
    clearErrors(profile);
    saved.textContent = '';
    await busy(save, async () => {
      try {
        app.setMe(await api.patch('/users/me', { display_name: name.value.trim(), bio: bio.value.trim() }));
        saved.textContent = 'Profile saved.';
      } catch (err) {
        showErrors(profile, err);
      }
    });
  }

  // Avatar: saved as soon as it is chosen.
  let pic = avatar(me, 'lg');
  const file = h('input', {
    id: 'settings-avatar', name: 'avatar', type: 'file', class: 'file-input',
    accept: 'image/jpeg,image/png,image/gif,image/webp', onchange: () => file.files[0] && setAvatar(file.files[0]),
  });
  const choose = h('label', { for: 'settings-avatar', class: 'button secondary' }, 'Choose a photo');
  const clear = h('button', { type: 'button', class: 'link', hidden: !me.avatar_url, onclick: () => setAvatar(null) }, 'Remove photo');
  const picStatus = h('p', { class: 'hint', role: 'status' });
  const picRow = h('div', { class: 'avatar-edit' }, pic, h('div', {}, h('div', { class: 'row' }, file, choose, clear), picStatus));

  async function setAvatar(f) {
    if (f && instance.max_upload_bytes && f.size > instance.max_upload_bytes) {
      picStatus.textContent = `That photo is ${bytes(f.size)}, larger than ${bytes(instance.max_upload_bytes)}, the limit here.`;
      file.value = '';
      return;
    }
    picStatus.textContent = f ? uploading(0, 0) : 'Removing…';
    file.disabled = true;
    try {
      const url = f ? (await api.upload(f, {
        signal: ctx.signal,
        onProgress: (sent, total) => { picStatus.textContent = uploading(sent, total); },
      })).url : '';
      const u = await api.patch('/users/me', { avatar_url: url });
      app.setMe(u);
      const next = avatar(u, 'lg');
      pic.replaceWith(next);
      pic = next;
      clear.hidden = !u.avatar_url;
      picStatus.textContent = f ? 'New photo saved.' : 'Photo removed.';
    } catch (err) {
      picStatus.textContent = '';
      report(err, err.status === 415 ? "That file isn't a JPEG, PNG, GIF or WebP image" : "Couldn't change the photo");
    } finally {
      file.disabled = false;
      file.value = '';
    }
  }

  // Privacy. The history window is WeChat's: others see only the posts of
  // the last so many days; you always see all of yours.
  const WINDOWS = [[0, 'All time'], [180, 'The last 6 months'], [30, 'The last month'], [3, 'The last 3 days']];
  const days = me.history_visible_days || 0;
  if (!WINDOWS.some(([d]) => d === days)) WINDOWS.push([days, `The last ${days} days`]);
  const history = h('select', { id: 'settings-history', name: 'history_visible_days' },
    WINDOWS.map(([d, label]) => h('option', { value: String(d) }, label)));
  history.value = String(days);
  const audiences = [['members', 'All members'], ['only_me', 'Only me']];
  if (instance.public_posts || me.default_audience === 'public') audiences.push(['public', 'Everyone, also visitors']);
  const audience = h('select', { id: 'settings-audience', name: 'default_audience' },
    audiences.map(([v, label]) => h('option', { value: v }, label)));
  audience.value = me.default_audience || 'members';
  const savePrivacy = h('button', { type: 'submit', class: 'primary' }, 'Save privacy');
  const privacySaved = h('p', { class: 'saved', role: 'status', id: 'privacy-saved' });
  const privacy = h('form', { id: 'privacy-form', method: 'post', class: 'stack', onsubmit: saveSettings, onchange: () => { privacySaved.textContent = ''; } },
    field('Others see your posts from', history, 'Older posts are hidden from everyone but you, everywhere.'),
    field('A new post is for', audience, 'The composer starts with this; you can change it for each post.'),
    formError(), h('div', { class: 'row end' }, privacySaved, savePrivacy));

  async function saveSettings(e) {
    e.preventDefault();
    clearErrors(privacy);
    privacySaved.textContent = '';
    await busy(savePrivacy, async () => {
      try {
        app.setMe(await api.patch('/users/me', { history_visible_days: Number(history.value), default_audience: audience.value }));
        privacySaved.textContent = 'Privacy saved.';
      } catch (err) {
        showErrors(privacy, err);
      }
    });
  }

  // Password. The hidden username lets password managers update the
  // right entry.
  const current = h('input', { id: 'settings-current', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const fresh = h('input', { id: 'settings-new', name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const change = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const password = h('form', { id: 'password-form', method: 'post', class: 'stack', onsubmit: changePassword },
    h('input', { name: 'username', autocomplete: 'username', value: me.username, hidden: true, readonly: true }),
    field('Current password', current),
    field('New password', fresh, 'At least 8 characters. You will sign in again everywhere.'),
    formError(), h('div', { class: 'row end' }, change));

  async function changePassword(e) {
    e.preventDefault();
    clearErrors(password);
    await busy(change, async () => {
      try {
        await api.put('/users/me/password', { current_password: current.value, new_password: fresh.value });
      } catch (err) {
        showErrors(password, err);
        return;
      }
      app.signOut('Password changed. Sign in with your new password.');
    });
  }

  append(root,
    heading('Settings'),
    h('section', { class: 'card', 'aria-labelledby': 'settings-profile' },
      h('h2', { id: 'settings-profile' }, 'Profile'), picRow, profile),
    h('section', { class: 'card', 'aria-labelledby': 'settings-privacy' },
      h('h2', { id: 'settings-privacy' }, 'Privacy'), privacy,
      h('p', { class: 'hint' }, 'Choose who sees each post when you write it: all members, some of your ', h('a', { href: '#/circles' }, 'circles'), ', or only you. Admins see what members see, no more.')),
    h('section', { class: 'card', 'aria-labelledby': 'settings-password' },
      h('h2', { id: 'settings-password' }, 'Password'), password),
    h('section', { class: 'card', 'aria-labelledby': 'settings-session' },
      h('h2', { id: 'settings-session' }, 'Session'),
      h('p', { class: 'muted' }, `Signed in as @${me.username}.`),
      h('button', { type: 'button', class: 'secondary', id: 'sign-out', onclick: () => app.signOut('You are signed out.') }, 'Sign out')),
  );
}
