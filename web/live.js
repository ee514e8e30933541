// The dashboard's only script: keeps the page live over server-sent events.
// Overview: on "change", fetch the page again and swap the table in (no reload).
// Run page: append each line as it comes; on "finish", show the outcome.
// Request page: ask the API until the worker starts the run, then go to the run's page.
'use strict';
(function () {
  const main = document.getElementById('live');
  if (!main) return;
  const kind = main.dataset.kind;
  if (kind === 'request') {
    const state = document.getElementById('request-state');
    const tick = async () => {
      const r = await fetch(main.dataset.src, { credentials: 'same-origin' }).catch(() => null);
      const body = r && r.ok ? await r.json() : null;
      if (body && body.run) return location.assign(body.run.url);
      const s = body && body.status;
      if (s) {
        const failed = s.state === 'refused' || s.state === 'lost' || (s.state === 'done' && s.exitCode !== 0);
        state.className = failed ? 'bad' : s.state === 'done' ? 'ok' : 'running';
        state.textContent = s.state + (s.error ? ': ' + s.error : '');
        // a request refused before it became a run has nothing more to show
        if (s.state !== 'queued' && s.state !== 'running') return;
      }
      setTimeout(tick, 500);
    };
    tick();
    return;
  }
  if (!window.EventSource) return;
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
