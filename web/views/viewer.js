// The full-size photo viewer: a modal dialog that pages with the arrow
// keys, the on-screen buttons or a swipe, and closes with Escape.
import { h, icon, safeURL } from '../ui.js';

export function openViewer(urls, start, who, opener) {
  let i = start;
  const img = h('img', { class: 'full', alt: '', decoding: 'async' });
  const caption = h('p', { class: 'count', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'nav prev', 'aria-label': 'Previous photo', onclick: () => show(i - 1) }, icon('left'));
  const next = h('button', { type: 'button', class: 'nav next', 'aria-label': 'Next photo', onclick: () => show(i + 1) }, icon('right'));
  const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: () => d.close() }, icon('close'));
  const d = h('dialog', { class: 'viewer', 'aria-label': `Photos by ${who}` },
    h('figure', {}, img, h('figcaption', {}, caption)), prev, next, close);

  function show(n) {
    i = (n + urls.length) % urls.length;
    img.classList.add('loading');
    img.onload = () => img.classList.remove('loading');
    img.src = safeURL(urls[i]) || '';
    img.alt = `Photo ${i + 1} of ${urls.length} by ${who}`;
    caption.textContent = `${i + 1} / ${urls.length}`;
  }

  d.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft') show(i - 1);
    else if (e.key === 'ArrowRight') show(i + 1);
    else return;
    e.preventDefault();
  });
  let x0 = null;
  d.addEventListener('pointerdown', (e) => {
    x0 = e.clientX;
  });
  d.addEventListener('pointerup', (e) => {
    if (x0 === null) return;
    const dx = e.clientX - x0;
    x0 = null;
    if (Math.abs(dx) > 50) show(dx < 0 ? i + 1 : i - 1);
  });
  // A click on the dark backdrop (not the photo or a button) closes.
  d.addEventListener('click', (e) => {
    if (e.target === d || e.target.tagName === 'FIGURE') d.close();
  });
  d.addEventListener('close', () => {
    d.remove();
    opener?.focus();
  });

  prev.hidden = next.hidden = urls.length < 2;
  document.body.append(d);
  show(start);
  d.showModal();
  close.focus();
}
