/* global window, document, sessionStorage, fetch, EventSource, location, history, URLSearchParams */
// The wallboard: loads queues, operators, calls in progress and today's figures from the API,
// then follows the event stream (GET /v1/events). Operator events change the board directly; call
// and queue events make it reload the calls in progress (and, a moment later, today's figures,
// which PostgreSQL has once the records are stored). On any gap in the stream it reloads it all.
'use strict';

(function wallboard() {
  const KEY_STORAGE = 'switchboard-wallboard-key';
  const STATS_EVERY_MS = 30000;
  const STATS_AFTER_EVENT_MS = 1500;
  const CALLS_AFTER_EVENT_MS = 200;
  const RECONNECT_MS = 3000;
  const FINAL_EVENTS = ['connected', 'abandoned', 'left-queue', 'ended', 'transferred'];

  const board = {
    queues: [],
    operators: new Map(),
    names: new Map(),
    calls: [],
    today: new Map(),
    clockSkewMs: 0,
  };
  let key = null;
  let events = null;
  const timers = {};

  const $ = (id) => document.getElementById(id);
  const now = () => Date.now() + board.clockSkewMs;

  // ---- API ----

  class Unauthorized extends Error {}

  async function api(path, init) {
    const res = await fetch(path, {
      ...(init || {}),
      headers: { authorization: 'Bearer ' + key, accept: 'application/json' },
    });
    if (res.status === 401 || res.status === 403) throw new Unauthorized((await res.json()).error.message);
    if (!res.ok) throw new Error(path + ' answered ' + res.status);
    // The server's clock decides how long someone has waited, not this screen's. Its Date header
    // counts whole seconds, so only a clearly wrong clock here is corrected.
    const skew = Date.parse(res.headers.get('date') || '') - Date.now();
    if (!Number.isNaN(skew)) board.clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
    return res.json();
  }

  function todayRange() {
    const start = new Date();
    start.setHours(0, 0, 0, 0);
    const end = new Date(start);
    end.setDate(end.getDate() + 1);
    return { from: start.toISOString(), to: end.toISOString() };
  }

  async function loadConfig() {
    const [queues, operators] = await Promise.all([api('/v1/queues?limit=500'), api('/v1/operators?limit=500')]);
    board.queues = queues.items.sort((a, b) => a.number.localeCompare(b.number));
    board.names = new Map(operators.items.map((o) => [o.id, o.displayName]));
  }

  async function loadOperators() {
    const states = await api('/v1/operator-states');
    board.operators = new Map(states.items.map((s) => [s.operatorId, { ...s, sinceMs: Date.parse(s.since) }]));
  }

  async function loadCalls() {
    board.calls = (await api('/v1/calls')).items;
    render();
  }

  async function loadToday() {
    const range = todayRange();
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const q = new URLSearchParams({ from: range.from, to: range.to, tz });
    const report = await api('/v1/stats/queues?' + q.toString());
    board.today = new Map(report.items.map((item) => [item.queueId, item.intervals[0]]));
    render();
  }

  async function loadAll() {
    await loadConfig();
    await Promise.all([loadOperators(), loadCalls(), loadToday()]);
    render();
  }

  // ---- event stream ----

  function later(name, ms, fn) {
    if (timers[name]) return;
    timers[name] = window.setTimeout(() => {
      timers[name] = undefined;
      fn().catch(failed);
    }, ms);
  }

  function setStatus(state) {
    const el = $('status');
    el.dataset.state = state;
    el.textContent = state;
  }

  async function connect() {
    if (events) events.close();
    const { url } = await api('/v1/events/tokens', { method: 'POST' });
    events = new EventSource(url);
    // A fresh stream may have missed events while it was away: reload what it would have said.
    events.addEventListener('hello', () => {
      setStatus('live');
      loadAll().catch(failed);
    });
    events.addEventListener('operator', (e) => onOperator(JSON.parse(e.data)));
    events.addEventListener('call', (e) => onCall(JSON.parse(e.data)));
    events.addEventListener('queue', () => later('calls', CALLS_AFTER_EVENT_MS, loadCalls));
    events.addEventListener('bye', () => reconnect());
    // EventSource would retry with the same token, which expires: start over with a new one.
    events.onerror = () => reconnect();
  }

  function reconnect() {
    if (events) events.close();
    events = null;
    setStatus('reconnecting');
    window.setTimeout(() => connect().catch(failed), RECONNECT_MS);
  }

  function onOperator(s) {
    const known = board.operators.get(s.operatorId) || { operatorId: s.operatorId, username: s.username };
    board.operators.set(s.operatorId, { ...known, state: s.state, since: s.since, sinceMs: Date.parse(s.since), callsTaken: s.callsTaken });
    render();
  }

  function onCall(e) {
    later('calls', CALLS_AFTER_EVENT_MS, loadCalls);
    if (FINAL_EVENTS.includes(e.event)) later('today', STATS_AFTER_EVENT_MS, loadToday);
  }

  // ---- rendering ----

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + ss : m + ':' + ss;
  }

  function percent(part, whole) {
    if (!whole) return '–';
    const p = Math.round((1000 * part) / whole) / 10;
    return (Number.isInteger(p) ? String(p) : p.toFixed(1)) + '%';
  }

  function cell(row, field, text, cls) {
    const td = document.createElement('td');
    td.dataset.field = field;
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  /** Callers not answered yet (waiting or ringing an operator), by queue. */
  function waitingByQueue() {
    const byQueue = new Map();
    for (const c of board.calls) {
      if (c.queueId === null || c.answeredAt !== null || !c.queuedAt) continue;
      if (c.state !== 'waiting' && c.state !== 'offering') continue;
      const list = byQueue.get(c.queueId) || [];
      list.push(Date.parse(c.queuedAt));
      byQueue.set(c.queueId, list);
    }
    return byQueue;
  }

  function queueRow(tbody, id, label, figures) {
    const tr = document.createElement('tr');
    tr.dataset.queueId = String(id);
    if (figures.waiting > 0 && figures.longestWaitS >= figures.alertS) tr.className = 'alert';
    cell(tr, 'queue', label);
    cell(tr, 'waiting', String(figures.waiting), 'big');
    cell(tr, 'longestWait', figures.waiting > 0 ? duration(figures.longestWaitS) : '–', 'big');
    cell(tr, 'offered', String(figures.offered));
    cell(tr, 'answered', String(figures.answered));
    cell(tr, 'abandoned', String(figures.abandoned));
    cell(tr, 'serviceLevel', percent(figures.answeredWithinT, figures.answered), 'big');
    cell(tr, 'abandonRate', percent(figures.abandoned, figures.answered + figures.abandoned), 'big');
    tbody.appendChild(tr);
  }

  function renderQueues() {
    const waiting = waitingByQueue();
    const t = now();
    const tbody = $('queues').tBodies[0];
    const total = { waiting: 0, longestWaitS: 0, offered: 0, answered: 0, answeredWithinT: 0, abandoned: 0, alertS: Infinity };
    tbody.replaceChildren();
    for (const q of board.queues) {
      const since = waiting.get(q.id) || [];
      const today = board.today.get(q.id) || { offered: 0, answered: 0, answeredWithinT: 0, abandoned: 0 };
      const f = {
        waiting: since.length,
        longestWaitS: since.length ? (t - Math.min(...since)) / 1000 : 0,
        offered: today.offered,
        answered: today.answered,
        answeredWithinT: today.answeredWithinT,
        abandoned: today.abandoned,
        alertS: q.serviceLevelS,
      };
      queueRow(tbody, q.id, q.number + ' ' + q.name, f);
      for (const k of ['waiting', 'offered', 'answered', 'answeredWithinT', 'abandoned']) total[k] += f[k];
      total.longestWaitS = Math.max(total.longestWaitS, f.longestWaitS);
    }
    const tfoot = $('queues').tFoot;
    tfoot.replaceChildren();
    queueRow(tfoot, 'all', 'All queues', total);
  }

  function renderOperators() {
    const t = now();
    const tbody = $('operators').tBodies[0];
    tbody.replaceChildren();
    const order = { busy: 0, ringing: 1, 'wrap-up': 2, available: 3, 'on-break': 4, 'logged-out': 5 };
    const list = [...board.operators.values()].sort((a, b) => order[a.state] - order[b.state] || a.username.localeCompare(b.username));
    for (const s of list) {
      const tr = document.createElement('tr');
      tr.dataset.operatorId = String(s.operatorId);
      cell(tr, 'operator', board.names.get(s.operatorId) || s.username);
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.dataset.state = s.state;
      badge.textContent = s.state;
      cell(tr, 'state', '', 'state').appendChild(badge);
      cell(tr, 'inState', duration((t - s.sinceMs) / 1000));
      cell(tr, 'callsTaken', String(s.callsTaken));
      tbody.appendChild(tr);
    }
  }

  function render() {
    if ($('board').hidden) return;
    renderQueues();
    renderOperators();
    $('clock').textContent = new Date(now()).toLocaleTimeString();
    $('footnote').textContent = 'Today: since local midnight. Service level: answered within the queue\'s T seconds / answered. Abandon rate: abandoned / (answered + abandoned).';
  }

  // ---- start ----

  function showLogin(message) {
    if (events) events.close();
    events = null;
    key = null;
    sessionStorage.removeItem(KEY_STORAGE);
    $('board').hidden = true;
    $('login').hidden = false;
    if (message) $('login-message').textContent = message;
  }

  function failed(err) {
    if (err instanceof Unauthorized) return showLogin('The key was refused: ' + err.message);
    setStatus('reconnecting');
    window.console.error(err);
  }

  let ticking = false;

  /** The stream's hello loads the board, so a reconnect reloads it too. */
  function start() {
    $('login').hidden = true;
    $('board').hidden = false;
    connect().catch(failed);
    if (ticking) return;
    ticking = true;
    window.setInterval(render, 1000);
    window.setInterval(() => {
      if (key) loadToday().catch(failed);
    }, STATS_EVERY_MS);
  }

  // A kiosk opens /wallboard/#key=...: the fragment never reaches a server or its logs; the key
  // moves to this tab's session storage and out of the address bar.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('key')) {
    sessionStorage.setItem(KEY_STORAGE, fragment.get('key'));
    history.replaceState(null, '', location.pathname);
  }
  key = sessionStorage.getItem(KEY_STORAGE);
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    key = $('login-key').value.trim();
    sessionStorage.setItem(KEY_STORAGE, key);
    start();
  });
  if (key) start();
  else showLogin();
})();
