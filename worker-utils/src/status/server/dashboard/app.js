// worker-utils live dashboard. No framework, no build step, no network access other than
// this page's own server: the status feed on /ws (the same one any client reads) and, only
// once an admin token is given, the admin API under /api/.
//
// Counters derive from each job's latest state (keyed by job id, ordered by seq), never
// from increments alone: a snapshot received again after a reconnect, or an event seen
// twice, changes nothing. Rendering is coalesced into animation frames and stops while the
// tab is hidden. All text goes through textContent: nothing from the feed becomes markup.
'use strict';

(() => {
  const WINDOW = 2000; // recent jobs kept with their history (the table's window)
  const MAX_HISTORY = 64; // events kept per job
  const MAX_TRACKED = 250000; // jobs whose latest state is kept for the counters
  const TABLE_ROWS = 200; // rows drawn at once
  const CHART_SECONDS = 300;
  const TABLE_EVERY_MS = 250;
  const STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED'];
  const KINDS = ['transient', 'permanent', 'system', 'business_logic'];
  const ADMIN_KEY = 'worker-utils-admin-token';

  const $ = (id) => document.getElementById(id);

  /** A new element with text content, class names and data attributes. */
  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    if (options) {
      if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
      if (options.cls) node.className = options.cls;
      if (options.data) for (const [key, value] of Object.entries(options.data)) node.dataset[key] = value;
      if (options.title) node.title = options.title;
      if (options.type) node.type = options.type;
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function statusBadge(status) {
    return el('span', { cls: `status status-${status}`, text: status });
  }

  function time(ms) {
    return ms ? new Date(ms).toISOString().slice(11, 23) : '';
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return '';
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
  }

  // ---- state ----------------------------------------------------------------------------

  const state = {
    /** job id -> { q, st, att, seq, red, kind }: every job seen, for the counters. */
    jobs: new Map(),
    /** job id -> row of the recent window, least recently updated first. */
    recent: new Map(),
    /** queue -> counters. */
    queues: new Map(),
    /** Unix second -> [completed, failed]. */
    buckets: new Map(),
    lastSeq: 0,
    selected: null,
    /** new job id -> the dead letter it was requeued from. */
    requeuedFrom: new Map(),
  };

  function counters(queue) {
    let c = state.queues.get(queue);
    if (!c) {
      c = { PENDING: 0, PROCESSING: 0, COMPLETED: 0, FAILED: 0, redelivered: 0, kinds: {} };
      for (const kind of KINDS) c.kinds[kind] = 0;
      state.queues.set(queue, c);
      queuesChanged = true;
    }
    return c;
  }

  function bucket(ms, index) {
    const second = Math.floor(ms / 1000);
    let b = state.buckets.get(second);
    if (!b) {
      b = [0, 0];
      state.buckets.set(second, b);
    }
    b[index] += 1;
  }

  /** Applies one status event; false when it is not newer than what the job already shows. */
  function apply(ev) {
    const id = ev.job_id;
    let job = state.jobs.get(id);
    if (job && ev.seq <= job.seq) return false;
    if (!job) {
      job = { q: ev.queue, st: null, att: 0, seq: 0, red: 0, kind: null };
      state.jobs.set(id, job);
      if (state.jobs.size > MAX_TRACKED) {
        // The oldest job leaves the state, not the counters.
        state.jobs.delete(state.jobs.keys().next().value);
      }
    }
    if (job.st !== null && (job.st !== ev.status || job.q !== ev.queue)) {
      const old = counters(job.q);
      old[job.st] -= 1;
      if (job.st === 'FAILED' && job.kind) old.kinds[job.kind] -= 1;
    }
    const c = counters(ev.queue);
    if (job.st !== ev.status || job.q !== ev.queue) {
      c[ev.status] += 1;
      if (ev.status === 'FAILED') {
        job.kind = ev.error ? ev.error.kind : null;
        if (job.kind && job.kind in c.kinds) c.kinds[job.kind] += 1;
        bucket(ev.timestamp_ms, 1);
      } else if (ev.status === 'COMPLETED') {
        bucket(ev.timestamp_ms, 0);
      }
    }
    // Each delivery after the first is one redelivery: the highest delivery number seen
    // tells how many there were, whichever of the job's events arrived (the server may
    // coalesce a PENDING into the PROCESSING after it).
    const red = Math.max(0, ev.attempt - 1);
    if (red > job.red) {
      c.redelivered += red - job.red;
      job.red = red;
    }
    job.q = ev.queue;
    job.st = ev.status;
    job.att = ev.attempt;
    job.seq = ev.seq;
    remember(ev);
    return true;
  }

  /** Keeps the event in the job's history, moving the job to the recent end of the window. */
  function remember(ev) {
    const id = ev.job_id;
    let row = state.recent.get(id);
    if (row) state.recent.delete(id);
    else row = { id, hist: [], errors: '' };
    row.q = ev.queue;
    row.st = ev.status;
    row.att = ev.attempt;
    if (ev.worker) row.worker = ev.worker;
    row.ts = ev.timestamp_ms;
    if (ev.duration_ms !== null && ev.duration_ms !== undefined) row.dur = ev.duration_ms;
    row.err = ev.error || (ev.status === 'COMPLETED' ? null : row.err);
    if (ev.error) row.errors += `\n${ev.error.kind} ${ev.error.message}`.toLowerCase();
    row.hist.push({
      seq: ev.seq, st: ev.status, att: ev.attempt, ts: ev.timestamp_ms, worker: ev.worker,
      dur: ev.duration_ms, due: ev.due_at_ms, err: ev.error,
    });
    if (row.hist.length > MAX_HISTORY) row.hist.splice(0, row.hist.length - MAX_HISTORY);
    state.recent.set(id, row);
    while (state.recent.size > WINDOW) {
      const oldest = state.recent.keys().next().value;
      state.recent.delete(oldest);
    }
  }

  function resetState() {
    state.jobs.clear();
    state.recent.clear();
    state.queues.clear();
    state.buckets.clear();
    state.lastSeq = 0;
    queuesChanged = true;
  }

  // ---- the feed -------------------------------------------------------------------------

  const params = new URLSearchParams(location.hash.slice(1));
  const readToken = params.get('token');
  if (params.has('admin')) {
    sessionStorage.setItem(ADMIN_KEY, params.get('admin'));
    params.delete('admin');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  }

  let socket = null;
  let snapshot = null; // events of a snapshot not complete yet (until `ready`)
  let retries = 0;
  let retryTimer = null;

  function feedUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // batch=1: each frame is an array of messages. The browser's cost per frame, not the
    // JSON, bounds how many events a second the page keeps up with.
    const token = readToken ? `&token=${encodeURIComponent(readToken)}` : '';
    return `${scheme}//${location.host}/ws?batch=1${token}`;
  }

  function setConnection(stateName, text) {
    const node = $('conn');
    node.dataset.state = stateName;
    node.textContent = text;
  }

  function connect() {
    retryTimer = null;
    setConnection(retries ? 'reconnecting' : 'connecting', retries ? 'reconnecting…' : 'connecting…');
    const ws = new WebSocket(feedUrl());
    socket = ws;
    snapshot = [];
    ws.onmessage = (message) => {
      if (ws !== socket) return;
      let messages;
      try {
        messages = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (!Array.isArray(messages)) return;
      for (const msg of messages) receive(msg);
    };
    ws.onclose = (close) => {
      if (ws !== socket) return;
      socket = null;
      const delay = Math.min(15000, 500 * 2 ** Math.min(retries, 5)) * (0.75 + Math.random() / 2);
      retries += 1;
      const why = close.code === 1006 ? '' : ` (${close.code}${close.reason ? ` ${close.reason}` : ''})`;
      setConnection('reconnecting', `disconnected${why}, retrying in ${(delay / 1000).toFixed(1)} s`);
      retryTimer = setTimeout(connect, delay);
    };
  }

  function receive(msg) {
    switch (msg.type) {
      case 'status':
        if (snapshot) snapshot.push(msg);
        else live(msg);
        break;
      case 'ready': {
        const events = snapshot || [];
        snapshot = null;
        // The sequence went back: another server (or a restarted one) whose jobs are not
        // the ones counted so far.
        if (msg.seq < state.lastSeq) resetState();
        for (const ev of events) apply(ev);
        state.lastSeq = Math.max(state.lastSeq, msg.seq);
        retries = 0;
        setConnection('live', 'live');
        $('feed-info').textContent = `snapshot of ${msg.snapshot} jobs at seq ${msg.seq}`;
        invalidate('counts', 'table', 'chart', 'detail');
        break;
      }
      case 'lagged':
        // Events were skipped: ask for a fresh snapshot; its jobs' states replace ours.
        notice(`the page fell behind and ${msg.missed} events were skipped; resynchronising`);
        setConnection('resyncing', 'resyncing…');
        snapshot = [];
        if (socket) socket.send(JSON.stringify({ type: 'subscribe' }));
        break;
      case 'subscribed':
        snapshot = snapshot || [];
        break;
      case 'error':
        notice(`the server refused a message: ${msg.message}`);
        break;
      case 'alert': {
        // The latest alert in the notice line (a firing one is sent again after each snapshot).
        const what = msg.action ? `${msg.queue} / ${msg.action}` : msg.queue;
        const rate = `${(msg.rate * 100).toFixed(0)}% of ${msg.calls} calls`;
        notice(`alert ${msg.rule} on ${what}: ${msg.state === 'FIRING' ? 'firing' : 'resolved'} (${rate})`);
        break;
      }
      default:
        break;
    }
  }

  function live(ev) {
    if (ev.seq > state.lastSeq) state.lastSeq = ev.seq;
    if (apply(ev)) {
      invalidate('counts', 'table');
      if (ev.job_id === state.selected) invalidate('detail');
      if (ev.status === 'FAILED' && admin.on) refreshDeadLettersSoon();
    }
  }

  function notice(text) {
    const node = $('notice');
    node.textContent = text;
    node.hidden = !text;
  }

  // ---- rendering ------------------------------------------------------------------------

  const dirty = { counts: false, table: false, chart: false, detail: false, dead: false };
  let frameRequested = false;
  let lastTable = 0;
  let queuesChanged = false;

  function invalidate(...parts) {
    for (const part of parts) dirty[part] = true;
    schedule();
  }

  function schedule() {
    if (frameRequested || document.hidden) return;
    frameRequested = true;
    requestAnimationFrame(frame);
  }

  function frame(now) {
    frameRequested = false;
    if (document.hidden) return; // picked up again on visibilitychange
    if (dirty.counts) {
      dirty.counts = false;
      renderCounts();
    }
    if (dirty.chart) {
      dirty.chart = false;
      renderChart();
    }
    if (dirty.table) {
      if (now - lastTable >= TABLE_EVERY_MS) {
        dirty.table = false;
        lastTable = now;
        renderTable();
      } else {
        schedule();
      }
    }
    if (dirty.dead) {
      dirty.dead = false;
      renderDeadLetters();
    }
    if (dirty.detail) {
      dirty.detail = false;
      renderDetail();
    }
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) invalidate('counts', 'table', 'chart', 'detail', 'dead');
  });
  setInterval(() => invalidate('chart'), 1000);

  function renderCounts() {
    const total = { PENDING: 0, PROCESSING: 0, COMPLETED: 0, FAILED: 0, redelivered: 0 };
    const kinds = {};
    for (const kind of KINDS) kinds[kind] = 0;
    const rows = document.createDocumentFragment();
    const names = [...state.queues.keys()].sort();
    for (const name of names) {
      const c = state.queues.get(name);
      const tr = el('tr', { data: { queue: name } }, el('th', { text: name }));
      for (const key of [...STATUSES, 'redelivered']) {
        tr.append(el('td', { text: c[key], data: { count: key.toLowerCase() } }));
        total[key] += c[key];
      }
      for (const kind of KINDS) kinds[kind] += c.kinds[kind];
      rows.append(tr);
    }
    $('queue-rows').replaceChildren(rows);
    for (const key of [...STATUSES, 'redelivered']) {
      document.querySelector(`#totals [data-count="${key.toLowerCase()}"]`).textContent = total[key];
    }
    for (const kind of KINDS) {
      document.querySelector(`[data-kind="${kind}"] b`).textContent = kinds[kind];
    }
    $('tracked').textContent = state.jobs.size;
    if (queuesChanged) {
      queuesChanged = false;
      const select = $('filter-queue');
      const chosen = select.value;
      select.replaceChildren(el('option', { text: 'all' }));
      select.firstChild.value = '';
      for (const name of names) select.append(el('option', { text: name }));
      select.value = chosen;
    }
  }

  function currentFilter() {
    const id = $('filter-id').value.trim();
    return {
      queue: $('filter-queue').value,
      status: $('filter-status').value,
      id: id === '' ? null : id,
      text: $('filter-text').value.trim().toLowerCase(),
    };
  }

  function matches(row, f) {
    if (f.queue && row.q !== f.queue) return false;
    if (f.status === 'redelivered') {
      if (row.att < 2) return false;
    } else if (f.status && row.st !== f.status) return false;
    if (f.id !== null && !String(row.id).startsWith(f.id)) return false;
    if (f.text && !row.errors.includes(f.text)) return false;
    return true;
  }

  function renderTable() {
    const f = currentFilter();
    const rows = document.createDocumentFragment();
    let shown = 0;
    let matching = 0;
    const recent = [...state.recent.values()];
    for (let i = recent.length - 1; i >= 0; i -= 1) {
      const row = recent[i];
      if (!matches(row, f)) continue;
      matching += 1;
      if (shown >= TABLE_ROWS) continue;
      shown += 1;
      const tr = el('tr', { data: { id: row.id, status: row.st } },
        el('td', { text: row.id }),
        el('td', { text: row.q }),
        el('td', {}, statusBadge(row.st)),
        el('td', { text: row.att }),
        el('td', { text: row.worker || '' }),
        el('td', { text: duration(row.dur) }),
        el('td', { text: time(row.ts) }),
        el('td', { cls: 'error', text: row.err ? `${row.err.kind}: ${row.err.message}` : '' }));
      if (row.id === state.selected) tr.classList.add('selected');
      rows.append(tr);
    }
    $('job-rows').replaceChildren(rows);
    $('jobs-info').textContent =
      `${matching} matching of the ${state.recent.size} most recent jobs` + (matching > shown ? `, newest ${shown} shown` : '');
  }

  function renderChart() {
    const canvas = $('chart');
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 640;
    const height = canvas.clientHeight || 150;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const now = Math.floor(Date.now() / 1000);
    const first = now - CHART_SECONDS + 1;
    for (const second of state.buckets.keys()) if (second < first - 60) state.buckets.delete(second);
    let max = 1;
    for (let s = first; s <= now; s += 1) {
      const b = state.buckets.get(s);
      if (b) max = Math.max(max, b[0], b[1]);
    }
    const left = 40;
    const bottom = height - 16;
    const plot = width - left - 6;
    ctx.strokeStyle = '#e1e4ea';
    ctx.fillStyle = '#6b7385';
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const y = bottom - fraction * (bottom - 8);
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(width - 6, y);
      ctx.stroke();
      ctx.fillText(String(Math.round(max * fraction)), 4, y + 4);
    }
    ctx.fillText(`-${CHART_SECONDS / 60} min`, left, height - 3);
    ctx.fillText('now', width - 30, height - 3);
    for (const [index, color] of [[0, '#1f8a3b'], [1, '#c62828']]) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let s = first; s <= now; s += 1) {
        const b = state.buckets.get(s);
        const x = left + ((s - first) / (CHART_SECONDS - 1)) * plot;
        const y = bottom - ((b ? b[index] : 0) / max) * (bottom - 8);
        if (s === first) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    // The last complete second's rates.
    const last = state.buckets.get(now - 1) || [0, 0];
    $('rate-completed').textContent = last[0];
    $('rate-failed').textContent = last[1];
  }

  // ---- a job's history ------------------------------------------------------------------

  function select(id) {
    state.selected = id;
    $('detail').hidden = id === null;
    invalidate('detail', 'table');
  }

  function renderDetail() {
    const id = state.selected;
    if (id === null) return;
    const row = state.recent.get(id);
    const from = state.requeuedFrom.get(id);
    $('detail-title').textContent = `Job ${id}` + (from !== undefined ? ` (requeued dead letter ${from})` : '');
    const job = state.jobs.get(id);
    $('detail-summary').replaceChildren(
      job ? statusBadge(job.st) : el('span', { text: 'not seen on the feed yet' }),
      job ? el('span', { text: ` queue ${job.q}, delivery ${job.att}, ${job.red} redeliver${job.red === 1 ? 'y' : 'ies'}` }) : '');
    const rows = document.createDocumentFragment();
    for (const h of row ? row.hist : []) {
      rows.append(el('tr', { data: { status: h.st } },
        el('td', { text: h.seq }),
        el('td', { text: time(h.ts) }),
        el('td', {}, statusBadge(h.st)),
        el('td', { text: h.att }),
        el('td', { text: h.worker || '' }),
        el('td', { text: duration(h.dur) }),
        el('td', { text: h.due ? time(h.due) : '' }),
        el('td', { cls: 'error', text: h.err ? `${h.err.kind}: ${h.err.message}` : '' })));
    }
    $('detail-history').replaceChildren(rows);
    const letter = admin.on ? admin.letters.find((l) => l.id === id) : undefined;
    $('detail-dead').replaceChildren(letter ? deadLetterHistory(letter) : '');
  }

  function deadLetterHistory(letter) {
    const list = el('ol', { cls: 'history' });
    for (const failure of [...(letter.earlier || []), letter.failure]) {
      const attempts = el('ul');
      for (const attempt of failure.attempts || []) {
        attempts.append(el('li', { text: `attempt ${attempt.attempt}: ${attempt.kind}: ${attempt.message}` }));
      }
      list.append(el('li', {
        text: `delivery ${failure.delivery} failed at ${time(failure.failed_at_ms)} in ${failure.action}: `
          + `${failure.kind}: ${failure.message}` + (failure.gave_up ? ` (gave up: ${failure.gave_up})` : ''),
      }, attempts));
    }
    return el('div', {},
      el('h3', { text: `Dead letter: ${letter.deliveries} deliver${letter.deliveries === 1 ? 'y' : 'ies'}` }),
      list);
  }

  $('job-rows').addEventListener('click', (event) => {
    const tr = event.target.closest('tr');
    if (tr) select(Number(tr.dataset.id));
  });
  $('detail-close').addEventListener('click', () => select(null));
  for (const id of ['filter-queue', 'filter-status', 'filter-id', 'filter-text']) {
    $(id).addEventListener('input', () => {
      lastTable = 0;
      invalidate('table', 'dead');
    });
  }

  // ---- admin: dead letters ----------------------------------------------------------------
  // Nothing here runs, and no admin data is fetched, until an admin token is given; the
  // server checks it on every request (Authorization header, never a cookie).

  const admin = { on: false, letters: [], total: 0, queue: '', refreshTimer: null };

  async function api(method, path, body) {
    const token = sessionStorage.getItem(ADMIN_KEY);
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method, headers, credentials: 'omit', cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      const error = new Error(text.trim() || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return JSON.parse(text);
  }

  async function loadDeadLetters() {
    try {
      const reply = await api('GET', '/api/dead-letters');
      admin.letters = reply.dead_letters;
      admin.total = reply.total;
      admin.queue = reply.queue;
      enterAdmin();
    } catch (error) {
      if (error.status === 401 || error.status === 403 || error.status === 404) {
        leaveAdmin(error.status === 404
          ? 'admin actions are not enabled on this server'
          : `admin token refused (${error.status})`);
      } else {
        notice(`dead letters could not be loaded: ${error.message}`);
      }
    }
  }

  function refreshDeadLettersSoon() {
    if (admin.refreshTimer) return;
    admin.refreshTimer = setTimeout(() => {
      admin.refreshTimer = null;
      if (admin.on) loadDeadLetters();
    }, 1000);
  }

  function enterAdmin() {
    if (!admin.on) {
      admin.on = true;
      document.body.classList.add('admin');
      $('admin-lock').hidden = false;
      $('dead-section').hidden = false;
      $('admin-state').textContent = 'admin mode';
    }
    invalidate('dead', 'detail');
  }

  function leaveAdmin(message) {
    sessionStorage.removeItem(ADMIN_KEY);
    admin.on = false;
    admin.letters = [];
    document.body.classList.remove('admin');
    $('admin-lock').hidden = true;
    $('dead-section').hidden = true;
    $('dead-rows').replaceChildren();
    $('dead-actions').replaceChildren();
    $('admin-state').textContent = message || '';
    invalidate('detail');
  }

  function matchingLetters() {
    const f = currentFilter();
    return admin.letters.filter((letter) => {
      if (f.queue && admin.queue !== f.queue) return false;
      if (f.id !== null && !String(letter.id).startsWith(f.id)) return false;
      if (f.text) {
        const text = [...(letter.earlier || []), letter.failure]
          .map((failure) => `${failure.kind} ${failure.message}`).join('\n').toLowerCase();
        if (!text.includes(f.text)) return false;
      }
      return true;
    });
  }

  function adminButton(text, cls, onClick) {
    const button = el('button', { text, cls: `admin-action ${cls}`, type: 'button' });
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      onClick();
    });
    return button;
  }

  function renderDeadLetters() {
    if (!admin.on) return;
    const letters = matchingLetters();
    const ids = letters.map((letter) => letter.id);
    $('dead-info').textContent = `${letters.length} matching the filter of ${admin.total} in ${admin.queue}`;
    const actions = document.createDocumentFragment();
    if (ids.length) {
      actions.append(
        adminButton(`Requeue ${ids.length} matching`, 'bulk-requeue', () => act('requeue', ids)),
        adminButton(`Delete ${ids.length} matching`, 'danger bulk-delete', () => act('delete', ids)));
    }
    $('dead-actions').replaceChildren(actions);
    const rows = document.createDocumentFragment();
    for (const letter of letters.slice(-TABLE_ROWS).reverse()) {
      rows.append(el('tr', { data: { id: letter.id } },
        el('td', { text: letter.id }),
        el('td', { text: admin.queue }),
        el('td', { text: letter.deliveries }),
        el('td', { text: letter.failure.kind }),
        el('td', { text: letter.failure.action }),
        el('td', { cls: 'error', text: letter.failure.message }),
        el('td', { text: time(letter.failure.failed_at_ms) }),
        el('td', {},
          adminButton('Requeue', 'requeue', () => act('requeue', [letter.id])),
          adminButton('Delete', 'danger delete', () => act('delete', [letter.id])))));
    }
    $('dead-rows').replaceChildren(rows);
  }

  $('dead-rows').addEventListener('click', (event) => {
    const tr = event.target.closest('tr');
    if (tr) select(Number(tr.dataset.id));
  });

  /** Asks for confirmation in a modal dialog; resolves to true on Confirm. */
  function confirmAction(text) {
    const dialog = $('confirm');
    $('confirm-text').textContent = text;
    return new Promise((resolve) => {
      const done = (answer) => {
        $('confirm-ok').onclick = null;
        $('confirm-cancel').onclick = null;
        dialog.onclose = null;
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      $('confirm-ok').onclick = () => done(true);
      $('confirm-cancel').onclick = () => done(false);
      dialog.onclose = () => done(false);
      dialog.showModal();
    });
  }

  async function act(action, ids) {
    const many = ids.length === 1 ? `dead letter ${ids[0]}` : `${ids.length} dead letters`;
    const question = action === 'requeue'
      ? `Requeue ${many}? Each goes back to the queue as a new job.`
      : `Delete ${many}? This cannot be undone.`;
    if (!(await confirmAction(question))) return;
    try {
      const reply = await api('POST', `/api/dead-letters/${action}`, { ids });
      if (action === 'requeue') {
        for (const [old, fresh] of reply.requeued) state.requeuedFrom.set(fresh, old);
        notice(`requeued ${reply.requeued.length}: ${reply.requeued.map(([o, n]) => `${o} → ${n}`).slice(0, 10).join(', ')}`);
        if (reply.requeued.length === 1) select(reply.requeued[0][1]);
      } else {
        notice(`deleted ${reply.deleted} dead letter${reply.deleted === 1 ? '' : 's'}`);
      }
    } catch (error) {
      notice(`${action} refused: ${error.message}`);
      if (error.status === 401 || error.status === 403) leaveAdmin(`admin token refused (${error.status})`);
    }
    loadDeadLetters();
  }

  $('admin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('admin-token').value.trim();
    $('admin-token').value = '';
    if (!token) return;
    sessionStorage.setItem(ADMIN_KEY, token);
    loadDeadLetters();
  });
  $('admin-lock').addEventListener('click', () => leaveAdmin('locked'));

  if (sessionStorage.getItem(ADMIN_KEY)) loadDeadLetters();
  connect();
  invalidate('counts', 'chart');
})();
