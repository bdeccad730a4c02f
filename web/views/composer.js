// The composer: text with a character counter, up to nine photos (uploaded
// at once, previewed, removable and reorderable, or given by URL), who can
// see the post, and the assistant, whose suggestion streams into the text
// box. A post may be photos alone.
import * as api from '../api.js';
import {
  h, fill, icon, avatar, field, formError, showErrors, clearErrors, busy, toast, safeURL, bytes, uploading,
} from '../ui.js';
import { audiencePicker } from './audience.js';

const MAX_CHARS = 5000;
const MAX_PHOTOS = 9;
const chars = (s) => Array.from(s.trim()).length;

export function composer(ctx, onPosted) {
  const { instance } = ctx;
  // { src, url, state: uploading | done | error, progress, short, error, el, paint }
  const photos = [];
  let streaming = null;
  let undoText = null;

  const text = h('textarea', {
    id: 'compose-content', name: 'content', rows: 3,
    placeholder: "What's new?", 'aria-describedby': 'compose-count', oninput: update,
  });
  const counter = h('span', { id: 'compose-count', class: 'counter' });
  const previews = h('ol', { class: 'previews', 'aria-label': 'Photos' });
  // A tile has room for a word or two; what went wrong in full is here.
  const problems = h('ul', { class: 'photo-errors', id: 'compose-photo-errors', 'aria-live': 'polite' });
  const files = h('input', {
    id: 'compose-photos', name: 'photos', type: 'file', class: 'file-input', multiple: true,
    accept: 'image/jpeg,image/png,image/gif,image/webp',
    onchange: () => {
      addFiles(files.files);
      files.value = '';
    },
  });
  const pick = h('label', { for: 'compose-photos', class: 'button ghost', title: 'Add photos' },
    icon('photo'), h('span', { class: 'label' }, 'Photos'));

  const urlInput = h('input', {
    id: 'compose-url', name: 'photo_url', type: 'url', inputmode: 'url', placeholder: 'https://…',
    onkeydown: (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        addURL();
      }
    },
  });
  const urlError = h('p', { class: 'field-error', hidden: true });
  const urlRow = h('div', { class: 'extra', hidden: true },
    h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: 'compose-url' }, 'Photo address (http or https)'), urlInput),
      h('button', { type: 'button', class: 'secondary', onclick: addURL }, 'Add')),
    urlError);
  const urlToggle = h('button', {
    type: 'button', class: 'ghost', title: 'Add a photo by its web address', 'aria-expanded': 'false',
    'aria-controls': 'compose-url-row', onclick: () => reveal(urlRow, urlToggle, urlInput),
  }, icon('link'), h('span', { class: 'label' }, 'Photo URL'));
  urlRow.id = 'compose-url-row';

  const prompt = h('input', {
    id: 'ask-prompt', name: 'prompt', maxlength: 2000, enterkeyhint: 'go',
    placeholder: 'e.g. a short caption for our beach day',
    onkeydown: (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        ask();
      }
    },
  });
  const askGo = h('button', { type: 'button', class: 'secondary', onclick: ask }, 'Write it');
  const undo = h('button', {
    type: 'button', class: 'link', hidden: true,
    onclick: () => {
      text.value = undoText;
      undo.hidden = true;
      askNote.textContent = 'Your draft is back.';
      update();
    },
  }, 'Undo');
  const askNote = h('p', { class: 'hint', role: 'status' });
  const askPanel = h('div', { class: 'extra ask', id: 'ask-panel', hidden: true },
    field('What should the assistant write?', prompt, 'It sees your draft too and replaces it with a suggestion.'),
    h('div', { class: 'row' }, askGo, undo), askNote);
  const askToggle = h('button', {
    type: 'button', class: 'ghost', 'aria-expanded': 'false', 'aria-controls': 'ask-panel',
    onclick: () => reveal(askPanel, askToggle, prompt),
  }, icon('spark'), h('span', { class: 'label' }, 'Ask the assistant'));
  const aiNote = h('p', { class: 'hint', role: 'status' });
  askToggle.hidden = !instance.assistant;

  const defaultAudience = () => ctx.me.default_audience || 'members';
  const who = audiencePicker(ctx, 'compose', { audience: defaultAudience() });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Post');
  const form = h('form', { id: 'composer', class: 'card composer', method: 'post', 'aria-label': 'New post', onsubmit },
    h('div', { class: 'compose-main' },
      avatar(ctx.me),
      h('div', { class: 'field grow' }, h('label', { for: 'compose-content', class: 'sr-only' }, 'What\'s new?'), text, counter)),
    previews, problems, urlRow, askPanel, aiNote, who.extra, formError(),
    h('div', { class: 'toolbar' }, files, pick, urlToggle, askToggle, h('span', { class: 'grow' }),
      h('label', { for: 'compose-audience', class: 'sr-only' }, 'Who can see it'), who.select, submit));

  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  // Photos pasted into the text box or dropped on the composer upload too.
  text.addEventListener('paste', (e) => {
    const list = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith('image/'));
    if (list.length) {
      e.preventDefault();
      addFiles(list);
    }
  });
  form.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
  });
  form.addEventListener('drop', (e) => {
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    addFiles(e.dataTransfer.files);
  });
  ctx.signal.addEventListener('abort', () => {
    for (const p of photos) if (p.src.startsWith('blob:')) URL.revokeObjectURL(p.src);
  });

  function reveal(panel, button, focus) {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) focus.focus();
  }

  function update() {
    const n = chars(text.value);
    counter.textContent = `${n} / ${MAX_CHARS}`;
    counter.classList.toggle('over', n > MAX_CHARS);
    counter.classList.toggle('near', n > MAX_CHARS * 0.9 && n <= MAX_CHARS);
    const uploading = photos.some((p) => p.state === 'uploading');
    const failed = photos.some((p) => p.state === 'error');
    submit.disabled = n > MAX_CHARS || uploading || failed || streaming !== null;
    submit.title = uploading ? 'Waiting for the photos to upload' : failed ? 'Remove the photos that failed' : '';
    pick.classList.toggle('disabled', photos.length >= MAX_PHOTOS);
    files.disabled = photos.length >= MAX_PHOTOS;
  }

  function paintAll() {
    const focused = document.activeElement;
    fill(previews, photos.map((p) => p.el));
    photos.forEach((p, i) => p.paint(i));
    const errors = photos.flatMap((p, i) => (p.state === 'error' ? [`Photo ${i + 1}: ${p.error}`] : []));
    // Unchanged errors are left alone, so that the live list speaks only of new ones.
    if (errors.join('\n') !== [...problems.children].map((li) => li.textContent).join('\n')) {
      fill(problems, errors.map((e) => h('li', {}, e)));
    }
    if (focused && previews.contains(focused)) (focused.disabled ? previews.querySelector('button:not(:disabled)') : focused)?.focus();
    update();
  }

  function move(p, by) {
    const i = photos.indexOf(p);
    const j = i + by;
    if (j < 0 || j >= photos.length) return;
    [photos[i], photos[j]] = [photos[j], photos[i]];
    paintAll();
  }

  function drop(p) {
    photos.splice(photos.indexOf(p), 1);
    if (p.src.startsWith('blob:')) URL.revokeObjectURL(p.src);
    const focusNext = previews.contains(document.activeElement);
    paintAll();
    if (focusNext) (previews.querySelector('.remove') || text).focus();
  }

  function addPhoto(p) {
    const img = h('img', {
      src: p.src, alt: '', width: 96, height: 96, decoding: 'async',
      onerror: () => p.el.classList.add('broken'),
    });
    const badge = h('span', { class: 'badge' });
    const earlier = h('button', { type: 'button', class: 'icon-btn', onclick: () => move(p, -1) }, icon('left'));
    const later = h('button', { type: 'button', class: 'icon-btn', onclick: () => move(p, 1) }, icon('right'));
    const remove = h('button', { type: 'button', class: 'icon-btn remove', onclick: () => drop(p) }, icon('close'));
    p.el = h('li', { class: 'preview' }, img, badge, h('div', { class: 'tools' }, earlier, later, remove));
    p.paint = (i) => {
      const n = i + 1;
      p.el.dataset.state = p.state;
      badge.textContent = p.state === 'uploading' ? p.progress : p.state === 'error' ? p.short : '';
      p.el.title = p.state === 'error' ? p.error : '';
      img.alt = p.state === 'uploading' ? `Photo ${n}, ${p.progress}`
        : p.state === 'error' ? `Photo ${n}, not added: ${p.error}` : `Photo ${n}`;
      earlier.setAttribute('aria-label', `Move photo ${n} earlier`);
      later.setAttribute('aria-label', `Move photo ${n} later`);
      remove.setAttribute('aria-label', `Remove photo ${n}`);
      earlier.disabled = i === 0;
      later.disabled = i === photos.length - 1;
    };
    photos.push(p);
  }

  function failed(p, short, error) {
    p.state = 'error';
    p.short = short;
    p.error = error;
  }

  function addFiles(list) {
    const images = [...list];
    const room = MAX_PHOTOS - photos.length;
    if (images.length > room) toast(`A post has at most ${MAX_PHOTOS} photos; ${images.length - room} left out.`, 'error');
    const limit = instance.max_upload_bytes;
    for (const file of images.slice(0, Math.max(0, room))) {
      const p = { src: URL.createObjectURL(file), state: 'uploading', progress: uploading(0, 0) };
      addPhoto(p);
      if (limit && file.size > limit) {
        failed(p, 'Too large', `Larger than ${bytes(limit)}, the limit here (this one is ${bytes(file.size)}).`);
        continue;
      }
      const onProgress = (sent, total) => {
        p.progress = uploading(sent, total);
        if (photos.includes(p)) p.paint(photos.indexOf(p));
      };
      api.upload(file, { signal: ctx.signal, onProgress }).then((res) => {
        p.url = res.url;
        p.state = 'done';
      }, (err) => {
        if (err.status === 415) failed(p, 'Not an image', 'That is not a JPEG, PNG, GIF or WebP image, or it is damaged.');
        // The server's detail names its limit: bytes, or megapixels.
        else if (err.status === 413) failed(p, 'Too large', err.message);
        else failed(p, 'Not uploaded', err.message);
      }).finally(() => {
        if (photos.includes(p) && !ctx.signal.aborted) paintAll();
      });
    }
    paintAll();
  }

  function addURL() {
    const raw = urlInput.value.trim();
    const ok = /^https?:\/\//i.test(raw) && raw.length <= 2048 && safeURL(raw);
    urlError.hidden = Boolean(ok);
    if (!ok) {
      urlError.textContent = 'Enter a full web address starting with http:// or https://';
      urlInput.setAttribute('aria-invalid', 'true');
      return;
    }
    urlInput.removeAttribute('aria-invalid');
    if (photos.length >= MAX_PHOTOS) {
      toast(`A post has at most ${MAX_PHOTOS} photos.`, 'error');
      return;
    }
    addPhoto({ src: raw, url: raw, state: 'done' });
    urlInput.value = '';
    paintAll();
  }

  async function ask() {
    if (streaming) {
      streaming.abort();
      return;
    }
    const draft = text.value;
    const want = prompt.value.trim() || (draft.trim() ? 'Polish my draft.' : '');
    if (!want) {
      askNote.textContent = 'Say what you would like first.';
      prompt.focus();
      return;
    }
    streaming = new AbortController();
    askGo.textContent = 'Stop';
    askNote.textContent = 'Writing…';
    text.readOnly = true;
    update();
    let got = '';
    let finished = false;
    try {
      await api.stream('/ai/assistant/stream', { prompt: want, draft }, (event, data) => {
        if (event === 'done') finished = true;
        if (event !== 'delta') return;
        got += JSON.parse(data).text || '';
        text.value = got;
        update();
      }, AbortSignal.any([ctx.signal, streaming.signal]));
      askNote.textContent = finished ? 'Here is a suggestion: edit it as you like.'
        : 'The suggestion was cut off; edit it or ask again.';
    } catch (err) {
      if (err.name === 'AbortError') askNote.textContent = got ? 'Stopped.' : '';
      else if (err.status === 503) {
        // Turned off since the page loaded: say so, then stop offering it.
        instance.assistant = false;
        askPanel.hidden = askToggle.hidden = true;
        askNote.textContent = '';
        aiNote.textContent = "The assistant isn't set up on this server; its operator can turn it on.";
      } else if (!err.handled) askNote.textContent = err.message;
    } finally {
      streaming = null;
      askGo.textContent = 'Write it';
      text.readOnly = false;
      update();
    }
    if (got) {
      undoText = draft;
      undo.hidden = false;
    }
  }

  async function onsubmit(e) {
    e.preventDefault();
    clearErrors(form);
    if (submit.disabled) return;
    await busy(submit, async () => {
      try {
        const post = await api.post('/posts', { content: text.value, media_urls: photos.map((p) => p.url), ...who.value() });
        for (const p of photos.splice(0)) if (p.src.startsWith('blob:')) URL.revokeObjectURL(p.src);
        text.value = '';
        who.reset(defaultAudience());
        undo.hidden = true;
        askNote.textContent = '';
        paintAll();
        onPosted(post);
      } catch (err) {
        showErrors(form, err);
      }
    });
    update();
  }

  update();
  return form;
}
