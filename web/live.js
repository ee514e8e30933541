// The dashboard's only script: keeps the page live over server-sent events.
// Overview: on "change", fetch the page again and swap the table in (no reload).
// Run page: append each line as it comes; on "finish", show the outcome.
'use strict';
(function () {
  const main = document.getElementById('live');
  if (!main || !window.EventSource) return;
  const kind = main.dataset.kind;
  if (kind === 'overview') {
    const events = new EventSource('/events');
    events.addEventListener('change', async () => {
      const r = await fetch(location.pathname, { headers: { 'X-Fragment': '1' }, credentials: 'same-origin' });
      if (r.ok) main.innerHTML = await r.text();
    });
    return;
  }
  if (kind === 'run') {
    const log = document.getElementById('log');
    const state = document.getElementById('state');
    const events = new EventSource(`${main.dataset.src}?from=${encodeURIComponent(main.dataset.offset || '0')}`);
    events.addEventListener('line', (e) => {
      const line = JSON.parse(e.data);
      const span = document.createElement('span');
      span.className = line.cls;
      span.textContent = line.text;
      log.append(span, '\n');
    });
    events.addEventListener('state', (e) => {
      const s = JSON.parse(e.data);
      state.className = s.state;
      state.textContent = s.text;
    });
    events.addEventListener('finish', async () => {
      events.close();
      // the hosts' outcomes: the page as the server renders a finished run
      const r = await fetch(location.pathname, { headers: { 'X-Fragment': '1' }, credentials: 'same-origin' });
      if (r.ok) main.innerHTML = await r.text();
      main.dataset.finished = '1';
    });
  }
})();
