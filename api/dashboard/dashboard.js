/**
 * The closermode dashboard: a calls list and a call detail panel over the management API.
 *
 * Call metadata, transcripts and scorecard text come from dialers and transcription services, so
 * every node is built with `createElement` and filled with `textContent`; nothing here parses a
 * string as HTML. The admin key lives in `sessionStorage` only and travels in the `Authorization`
 * header, never in a URL.
 */

const keyStorageName = 'closermode.adminKey';
const pendingStatuses = new Set(['queued', 'downloading', 'transcribing', 'scoring']);
const refreshIntervalMs = 3_000;
const pageSize = 25;
// Bounds the work of one auto-refresh tick when many calls are in flight at once.
const maxRefreshesPerTick = 20;

const agentLabels = new Set(['agent', 'rep', 'sales rep', 'salesperson', 'seller', 'closer']);
const customerLabels = new Set(['customer', 'prospect', 'client', 'lead', 'buyer']);
// The transcript format's speaker label: a short name before a colon at the start of a line, not a
// clock time ("3:30") or a URL. Unknown labels count only when they look like a name ("Speaker 2").
const labelPattern = /^\s*(\p{L}[\p{L}\p{N} .'_-]{0,30}?)\s*:(?![\d/])\s*/u;
const nameLike = /^[\p{Lu}\p{N}][\p{L}\p{N}.'_-]*(?: [\p{Lu}\p{N}][\p{L}\p{N}.'_-]*){0,3}$/u;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const state = {
  /** @type {string | null} */
  key: null,
  /** @type {Map<string, string>} integration id to name */
  integrations: new Map(),
  /** @type {any[]} the listed calls, newest first */
  calls: [],
  /** @type {string | null} */
  nextCursor: null,
  /** Bumped whenever the list starts over, so a late page for old filters is dropped. */
  listGeneration: 0,
  /** @type {{ call: any, scores: any[] } | null} */
  detail: null,
  /** @type {string | null} */
  selectedId: null,
  /** @type {string | null} the call whose re-score is in flight */
  rescoringId: null,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  timer: undefined,
};

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) {
    throw new Error(`the page has no #${id}`);
  }

  return node;
}

/**
 * A new element. Strings among the children become text nodes, never markup.
 *
 * @param {string} tag
 * @param {{ className?: string, text?: string, attrs?: Record<string, string> }} [options]
 * @param {Array<Node | string | null | undefined | false>} [children]
 */
function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) {
    node.className = options.className;
  }
  if (options.text !== undefined) {
    node.textContent = options.text;
  }
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) {
      node.append(child);
    }
  }

  return node;
}

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * A management request with the admin key. An error answer becomes an `ApiError` carrying the
 * API's own message, so "Unauthorized" reads exactly as the API says it.
 *
 * @param {string} path
 * @param {{ method?: string, key?: string | null }} [options]
 */
async function api(path, { method = 'GET', key = state.key } = {}) {
  const response = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${key ?? ''}`, accept: 'application/json' },
    cache: 'no-store',
  });
  if (response.ok) {
    return response;
  }

  const body = await response.json().catch(() => ({}));
  const error = new ApiError(response.status, body.error ?? `Request failed (${response.status})`);
  // A key revoked while the page is open: start over at the prompt rather than fail every poll.
  if (response.status === 401 && key === state.key && state.key !== null) {
    signOut(error.message);
  }
  throw error;
}

/** @param {string} path */
async function getJson(path) {
  return (await api(path)).json();
}

/** @param {unknown} error */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

// ---- formatting -------------------------------------------------------------------------------

/** @param {string | null | undefined} iso */
function formatDate(iso) {
  return iso ? dateFormat.format(new Date(iso)) : '—';
}

/** @param {number | null | undefined} seconds */
function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) {
    return '—';
  }

  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, '0');

  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** @param {number} share a fraction from 0 to 1 */
function percent(share) {
  return `${Math.round(share * 100)}%`;
}

/** @param {number} score */
function scoreBand(score) {
  if (score >= 75) {
    return 'high';
  }

  return score >= 50 ? 'mid' : 'low';
}

/** @param {string} status */
function statusBadge(status) {
  return el('span', { className: `badge badge-${status}`, text: status });
}

/**
 * A score as a number with a bar beside it. The bar is decoration: the number is what assistive
 * technology reads. Its width is set through the CSSOM, which the style policy allows.
 *
 * @param {number} score
 * @param {string} [label]
 */
function scoreBar(score, label) {
  const fill = el('span', { className: 'bar-fill' });
  fill.style.width = `${Math.max(0, Math.min(100, score))}%`;

  return el('span', { className: `score score-${scoreBand(score)}` }, [
    el('span', { className: 'score-number', text: String(Math.round(score)) }),
    label && el('span', { className: 'visually-hidden', text: label }),
    el('span', { className: 'bar', attrs: { 'aria-hidden': 'true' } }, [fill]),
  ]);
}

// ---- sign-in ----------------------------------------------------------------------------------

function showSignIn() {
  byId('app-view').hidden = true;
  byId('sign-out').hidden = true;
  byId('sign-in-view').hidden = false;
  byId('admin-key').focus();
}

/** @param {SubmitEvent} event */
async function onSignIn(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('admin-key'));
  const error = byId('sign-in-error');
  const key = input.value.trim();
  error.textContent = '';
  if (key === '') {
    error.textContent = 'Enter an admin key.';
    input.focus();
    return;
  }

  try {
    // Checking the key against a real route tells a wrong key apart from a server that is down.
    const response = await api('/api/integrations', { key });
    const { integrations } = await response.json();
    state.key = key;
    sessionStorage.setItem(keyStorageName, key);
    input.value = '';
    await start(integrations);
  } catch (failure) {
    error.textContent = messageOf(failure);
    input.select();
  }
}

/** @param {string} [reason] shown on the prompt, such as the API's "Unauthorized" */
function signOut(reason) {
  sessionStorage.removeItem(keyStorageName);
  state.key = null;
  state.calls = [];
  state.detail = null;
  state.selectedId = null;
  state.nextCursor = null;
  state.listGeneration += 1;
  clearTimeout(state.timer);
  byId('calls-body').replaceChildren();
  byId('detail').replaceChildren();
  byId('detail').hidden = true;
  byId('sign-in-error').textContent = reason ?? '';
  showSignIn();
}

/** @param {any[]} [integrations] when the sign-in check has just fetched them */
async function start(integrations) {
  byId('sign-in-view').hidden = true;
  byId('app-view').hidden = false;
  byId('sign-out').hidden = false;

  try {
    fillIntegrations(integrations ?? (await getJson('/api/integrations')).integrations);
  } catch (error) {
    setListMessage(messageOf(error), true);
  }
  if (state.key === null) {
    return;
  }
  byId('calls-title').focus();
  await loadCalls();
}

/** @param {Array<{ id: string, name: string }>} integrations */
function fillIntegrations(integrations) {
  const select = /** @type {HTMLSelectElement} */ (byId('filter-integration'));
  const chosen = select.value;
  state.integrations = new Map(integrations.map((each) => [each.id, each.name]));
  select.replaceChildren(
    el('option', { text: 'All integrations', attrs: { value: '' } }),
    ...integrations.map((each) => el('option', { text: each.name, attrs: { value: each.id } })),
  );
  select.value = state.integrations.has(chosen) ? chosen : '';
}

// ---- calls list -------------------------------------------------------------------------------

/** The list filters as query parameters, shared by the list and the export. */
function filterParams() {
  const params = new URLSearchParams();
  const integrationId = /** @type {HTMLSelectElement} */ (byId('filter-integration')).value;
  const status = /** @type {HTMLSelectElement} */ (byId('filter-status')).value;
  if (integrationId) {
    params.set('integrationId', integrationId);
  }
  if (status) {
    params.set('status', status);
  }

  return params;
}

/**
 * @param {string} text
 * @param {boolean} [isError]
 */
function setListMessage(text, isError = false) {
  const message = byId('list-message');
  message.textContent = text;
  message.classList.toggle('error', isError);
}

/** @param {{ append?: boolean }} [options] */
async function loadCalls({ append = false } = {}) {
  if (!append) {
    state.listGeneration += 1;
  }
  const generation = state.listGeneration;
  const params = filterParams();
  params.set('limit', String(pageSize));
  if (append && state.nextCursor) {
    params.set('cursor', state.nextCursor);
  }

  const loadMore = /** @type {HTMLButtonElement} */ (byId('load-more'));
  loadMore.disabled = true;
  setListMessage('Loading calls…');
  try {
    const page = await getJson(`/api/calls?${params}`);
    if (generation !== state.listGeneration) {
      return;
    }

    if (!append) {
      state.calls = [];
      byId('calls-body').replaceChildren();
    }
    state.calls.push(...page.calls);
    byId('calls-body').append(...page.calls.map(callRow));
    state.nextCursor = page.nextCursor;
    loadMore.hidden = page.nextCursor === null;
    byId('empty-list').hidden = state.calls.length > 0;
    setListMessage(`${state.calls.length} ${state.calls.length === 1 ? 'call' : 'calls'} shown`);
  } catch (error) {
    if (generation === state.listGeneration) {
      setListMessage(messageOf(error), true);
    }
  } finally {
    loadMore.disabled = false;
    scheduleRefresh();
  }
}

/** @param {any} call */
function callRow(call) {
  const open = el('button', {
    className: 'link',
    text: call.externalId,
    attrs: { type: 'button', 'aria-controls': 'detail' },
  });
  open.addEventListener('click', () => void openCall(call.id));

  const row = el('tr', { attrs: { 'data-call-id': call.id, 'data-status': call.status } }, [
    el('th', { attrs: { scope: 'row' } }, [open]),
    el('td', { text: call.repName ?? '—' }),
    el('td', { text: formatDate(call.callDate) }),
    el('td', { className: 'num', text: formatDuration(call.duration) }),
    el('td', {}, [statusBadge(call.status)]),
    el('td', {}, [call.score ? scoreBar(call.score.overall, 'out of 100') : '—']),
  ]);
  if (call.id === state.selectedId) {
    row.setAttribute('aria-current', 'true');
  }
  // The whole row is a target for the pointer; the button is the one for the keyboard.
  row.addEventListener('click', (event) => {
    if (event.target instanceof Element && !event.target.closest('button')) {
      void openCall(call.id);
    }
  });

  return row;
}

/** @param {string} id */
function rowOf(id) {
  return byId('calls-body').querySelector(`tr[data-call-id="${CSS.escape(id)}"]`);
}

/** Puts a fresher copy of a call into the list, keeping keyboard focus where it was. */
function updateListedCall(call) {
  const index = state.calls.findIndex((each) => each.id === call.id);
  const old = rowOf(call.id);
  if (index === -1 || !old) {
    return;
  }

  state.calls[index] = call;
  const hadFocus = old.contains(document.activeElement);
  const row = callRow(call);
  old.replaceWith(row);
  if (hadFocus) {
    row.querySelector('button')?.focus();
  }
}

function scheduleRefresh() {
  clearTimeout(state.timer);
  if (state.key !== null) {
    state.timer = setTimeout(() => void refreshPending(), refreshIntervalMs);
  }
}

/** Re-reads the calls that are still moving (and the open one), then waits for the next tick. */
async function refreshPending() {
  const ids = new Set(
    state.calls
      .filter((call) => pendingStatuses.has(call.status))
      .slice(0, maxRefreshesPerTick)
      .map((call) => call.id),
  );
  if (state.detail && pendingStatuses.has(state.detail.call.status)) {
    ids.add(state.detail.call.id);
  }

  await Promise.all(
    [...ids].map(async (id) => {
      try {
        const call = await getJson(`/api/calls/${encodeURIComponent(id)}`);
        updateListedCall(call);
        if (state.detail?.call.id === id && call.updatedAt !== state.detail.call.updatedAt) {
          const { scores } = await getJson(`/api/calls/${encodeURIComponent(id)}/scores`);
          if (state.detail?.call.id === id) {
            state.detail = { call, scores };
            renderDetail();
          }
        }
      } catch {
        // A missed tick is retried on the next one; a revoked key has already signed out.
      }
    }),
  );
  scheduleRefresh();
}

// ---- export -----------------------------------------------------------------------------------

/** @param {string | null} header */
function attachmentName(header) {
  const match = /filename="([^"]+)"/.exec(header ?? '');

  return match?.[1];
}

/**
 * Downloads the export for the current filters. A plain link cannot carry the admin key, so the
 * file is fetched with the header and handed to the browser as a Blob.
 *
 * @param {'csv' | 'ndjson'} format
 * @param {HTMLButtonElement} button
 */
async function exportCalls(format, button) {
  const params = filterParams();
  params.set('format', format);
  if (/** @type {HTMLInputElement} */ (byId('export-transcripts')).checked) {
    params.set('includeTranscript', 'true');
  }

  button.disabled = true;
  setListMessage(`Preparing the ${format.toUpperCase()} export…`);
  try {
    const response = await api(`/api/calls/export?${params}`);
    const blob = await response.blob();
    const name = attachmentName(response.headers.get('content-disposition')) ?? `calls.${format}`;
    const url = URL.createObjectURL(blob);
    const link = el('a', { attrs: { href: url, download: name }, className: 'visually-hidden' });
    document.body.append(link);
    link.click();
    link.remove();
    // Revoked a little later: revoking at once can cancel the download before it starts.
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
    setListMessage(`Exported ${name}.`);
  } catch (error) {
    setListMessage(`Export failed: ${messageOf(error)}`, true);
  } finally {
    button.disabled = false;
  }
}

// ---- call detail ------------------------------------------------------------------------------

/**
 * @param {string} id
 * @param {{ focus?: boolean }} [options]
 */
async function openCall(id, { focus = true } = {}) {
  state.selectedId = id;
  for (const row of byId('calls-body').querySelectorAll('tr')) {
    if (row.getAttribute('data-call-id') === id) {
      row.setAttribute('aria-current', 'true');
    } else {
      row.removeAttribute('aria-current');
    }
  }

  const detail = byId('detail');
  detail.hidden = false;
  if (state.detail?.call.id !== id) {
    detail.replaceChildren(el('p', { className: 'message', text: 'Loading call…' }));
  }

  try {
    const path = `/api/calls/${encodeURIComponent(id)}`;
    const [call, history] = await Promise.all([getJson(path), getJson(`${path}/scores`)]);
    if (state.selectedId !== id) {
      return;
    }
    state.detail = { call, scores: history.scores };
    renderDetail();
    updateListedCall(call);
    if (focus) {
      byId('detail-title').focus();
    }
  } catch (error) {
    if (state.selectedId === id) {
      detail.replaceChildren(el('p', { className: 'message error', text: messageOf(error) }));
    }
  }
}

function closeDetail() {
  const id = state.selectedId;
  state.selectedId = null;
  state.detail = null;
  byId('detail').hidden = true;
  byId('detail').replaceChildren();
  const row = id ? rowOf(id) : null;
  row?.removeAttribute('aria-current');
  row?.querySelector('button')?.focus();
}

/**
 * @param {string} title
 * @param {Array<Node | string | null | undefined | false>} children
 * @param {string} [className]
 */
function section(title, children, className = '') {
  return el('section', { className: `block ${className}`.trim() }, [
    el('h3', { text: title }),
    ...children,
  ]);
}

/** @param {Array<[string, Node | string]>} pairs */
function definitionList(pairs) {
  return el(
    'dl',
    { className: 'pairs' },
    pairs.flatMap(([term, value]) => [el('dt', { text: term }), el('dd', {}, [value])]),
  );
}

function renderDetail() {
  if (!state.detail) {
    return;
  }

  const { call, scores } = state.detail;
  const detail = byId('detail');
  const scrollTop = detail.scrollTop;
  const parts = [
    detailHeader(call),
    call.failureReason &&
      el('p', { className: 'failure', attrs: { role: 'note' } }, [
        el('strong', { text: 'Failure reason: ' }),
        call.failureReason,
      ]),
    ...(call.score ? scorecardSections(call.score) : [notScoredYet(call)]),
    historySection(scores),
    transcriptSection(call.transcript),
    detailsSection(call),
    section('Metadata', [
      call.metadata === null || call.metadata === undefined
        ? el('p', { className: 'empty', text: 'No metadata was sent with this call.' })
        : el('pre', { className: 'json', text: JSON.stringify(call.metadata, null, 2) }),
    ]),
  ];
  detail.replaceChildren(...parts.filter((part) => part instanceof Node));
  detail.scrollTop = scrollTop;
}

/** @param {any} call */
function notScoredYet(call) {
  const text =
    call.status === 'failed'
      ? 'This call has no score.'
      : `Not scored yet: the call is ${call.status}.`;

  return el('p', { className: 'empty', text });
}

/** @param {any} call */
function detailHeader(call) {
  const rescoreButton = el('button', {
    className: 'primary',
    text: 'Re-score',
    attrs: { type: 'button', id: 'rescore' },
  });
  if (!call.transcript) {
    rescoreButton.setAttribute('disabled', '');
    rescoreButton.setAttribute('title', 'The call has no transcript to score yet');
  }
  if (state.rescoringId === call.id) {
    rescoreButton.setAttribute('disabled', '');
  }
  rescoreButton.addEventListener('click', () => void rescore(call.id, rescoreButton));

  const close = el('button', {
    className: 'quiet',
    text: 'Close',
    attrs: { type: 'button', 'aria-label': 'Close call details' },
  });
  close.addEventListener('click', closeDetail);

  return el('header', { className: 'detail-head' }, [
    el('div', { className: 'detail-title-row' }, [
      el('h2', { text: call.externalId, attrs: { id: 'detail-title', tabindex: '-1' } }),
      statusBadge(call.status),
    ]),
    el('p', { className: 'subtle' }, [
      [
        call.repName ?? 'Unknown rep',
        formatDate(call.callDate),
        call.duration !== null && formatDuration(call.duration),
      ]
        .filter(Boolean)
        .join(' · '),
    ]),
    el('div', { className: 'actions' }, [rescoreButton, close]),
    el('p', { className: 'message', attrs: { id: 'detail-message', role: 'status' } }),
  ]);
}

/** @param {any} card the call's current scorecard */
function scorecardSections(card) {
  const overall = el('div', { className: 'overall' }, [
    el('p', { className: `overall-number score-${scoreBand(card.overall)}` }, [
      el('span', { text: String(card.overall) }),
      el('small', { text: ' / 100' }),
    ]),
    el('div', { className: 'overall-text' }, [
      el('p', { className: 'summary', text: card.summary }),
      el('p', {
        className: 'subtle',
        text: `Scored by ${card.scorer.name}, version ${card.scorer.version}`,
      }),
      card.fallbackReason &&
        el('p', { className: 'fallback' }, [
          el('strong', { text: 'Fallback: ' }),
          card.fallbackReason,
        ]),
    ]),
  ]);

  return [
    section('Score', [overall, statsList(card.stats)], 'scorecard'),
    section('Criteria', [el('ol', { className: 'criteria' }, card.criteria.map(criterionItem))]),
    el('div', { className: 'two-up' }, [
      section('Strengths', [bulletList(card.strengths, 'No strengths noted.')]),
      section('Improvements', [bulletList(card.improvements, 'No improvements noted.')]),
    ]),
  ];
}

/**
 * @param {string[]} items
 * @param {string} emptyText
 */
function bulletList(items, emptyText) {
  if (items.length === 0) {
    return el('p', { className: 'empty', text: emptyText });
  }

  return el(
    'ul',
    { className: 'bullets' },
    items.map((item) => el('li', { text: item })),
  );
}

/** @param {any} stats */
function statsList(stats) {
  const split = el('span', { className: 'split', attrs: { 'aria-hidden': 'true' } }, [
    el('span', { className: 'split-agent' }),
  ]);
  /** @type {HTMLElement} */ (split.firstChild).style.width = percent(stats.agentTalkShare);

  return definitionList([
    [
      'Talk share',
      el('span', {}, [
        `Agent ${percent(stats.agentTalkShare)} · Customer ${percent(stats.customerTalkShare)}`,
        split,
      ]),
    ],
    ['Turns', `${stats.turnCount} (agent ${stats.agentTurns}, customer ${stats.customerTurns})`],
    ['Questions', `Agent ${stats.agentQuestions} · Customer ${stats.customerQuestions}`],
    ['Longest monologue', `${stats.longestAgentMonologueWords} words`],
    ['Words', `${stats.totalWords}`],
  ]);
}

/** @param {any} criterion */
function criterionItem(criterion) {
  const evidence =
    criterion.evidence.length === 0
      ? null
      : el('ul', { className: 'evidence' }, criterion.evidence.map(evidenceItem));

  return el('li', { className: 'criterion' }, [
    el('div', { className: 'criterion-head' }, [
      el('h4', { text: criterion.name }),
      scoreBar(criterion.score, 'out of 100'),
      el('span', { className: 'weight', text: `weight ${criterion.weight}` }),
    ]),
    el('p', { className: 'explanation', text: criterion.explanation }),
    evidence,
  ]);
}

/** @param {{ line: number, speaker: string, text: string }} quote */
function evidenceItem(quote) {
  // Line numbers count from 0, as the API and the scorer's own explanations count them.
  const jump = el('button', {
    className: 'line-ref',
    text: `Line ${quote.line}`,
    attrs: { type: 'button', 'aria-label': `Show line ${quote.line} in the transcript` },
  });
  jump.addEventListener('click', () => showTranscriptLine(quote.line));

  return el('li', { className: `quote speaker-${speakerClass(quote.speaker)}` }, [
    jump,
    el('span', { className: 'speaker', text: speakerName(quote.speaker) }),
    el('q', { text: quote.text }),
  ]);
}

/** @param {number} line zero-based */
function showTranscriptLine(line) {
  const target = document.getElementById(`transcript-line-${line}`);
  if (!target) {
    return;
  }

  for (const marked of document.querySelectorAll('.transcript .highlight')) {
    marked.classList.remove('highlight');
  }
  target.classList.add('highlight');
  target.scrollIntoView({ block: 'center' });
  target.focus({ preventScroll: true });
}

/** @param {string} speaker */
function speakerClass(speaker) {
  return speaker === 'agent' || speaker === 'customer' ? speaker : 'other';
}

/** @param {string} speaker */
function speakerName(speaker) {
  if (speaker === 'agent') {
    return 'Agent';
  }

  return speaker === 'customer' ? 'Customer' : 'Other';
}

/**
 * The transcript's non-blank lines with their speakers. A line without a label continues the
 * speaker before it, as the scorer reads it.
 *
 * @param {string} text
 */
function transcriptLines(text) {
  /** @type {Array<{ index: number, speaker: string, label: string | null, text: string }>} */
  const lines = [];
  let speaker = 'other';

  text.split(/\r\n|\r|\n/).forEach((raw, index) => {
    if (raw.trim() === '') {
      return;
    }

    const match = labelPattern.exec(raw);
    const label = match?.[1]?.trim() ?? '';
    const lower = label.toLowerCase();
    let labelled = true;
    if (match && agentLabels.has(lower)) {
      speaker = 'agent';
    } else if (match && customerLabels.has(lower)) {
      speaker = 'customer';
    } else if (match && nameLike.test(label)) {
      speaker = 'other';
    } else {
      labelled = false;
    }

    lines.push({
      index,
      speaker,
      label: labelled ? label : null,
      text: labelled && match ? raw.slice(match[0].length).trim() : raw.trim(),
    });
  });

  return lines;
}

/** @param {{ text: string, source: string } | null} transcript */
function transcriptSection(transcript) {
  if (!transcript) {
    return section('Transcript', [el('p', { className: 'empty', text: 'No transcript yet.' })]);
  }

  const items = transcriptLines(transcript.text).map((line) =>
    el(
      'li',
      {
        className: `turn speaker-${line.speaker}${line.label ? '' : ' continued'}`,
        attrs: { id: `transcript-line-${line.index}`, tabindex: '-1' },
      },
      [
        el('span', { className: 'line-number', text: String(line.index) }),
        el('span', { className: 'speaker', text: line.label ?? '' }),
        el('span', { className: 'turn-text', text: line.text }),
      ],
    ),
  );

  return section(
    'Transcript',
    [
      el('p', { className: 'subtle', text: `Source: ${transcript.source}` }),
      el('ol', { className: 'transcript' }, items),
    ],
    'transcript-block',
  );
}

/** @param {any} call */
function detailsSection(call) {
  const integration = state.integrations.get(call.integrationId) ?? call.integrationId;

  return section('Call', [
    definitionList([
      ['Call id', el('code', { text: call.id })],
      ['Integration', integration],
      ['Rep', call.repName ?? '—'],
      ['Caller phone', call.callerPhone ?? '—'],
      ['Call date', formatDate(call.callDate)],
      ['Duration', formatDuration(call.duration)],
      ['Recording URL', call.recordingUrl ? el('code', { text: call.recordingUrl }) : '—'],
      ['Workflow', el('code', { text: call.workflowId ?? '—' })],
      ['Received', formatDate(call.createdAt)],
      ['Updated', formatDate(call.updatedAt)],
    ]),
  ]);
}

/** @param {any[]} scores newest or oldest first, as the API gives them */
function historySection(scores) {
  if (scores.length === 0) {
    return section('Score history', [el('p', { className: 'empty', text: 'No scores yet.' })]);
  }

  const rows = [...scores]
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .map((score) =>
      el('tr', {}, [
        el('td', { text: formatDate(score.createdAt) }),
        el('td', { className: 'num' }, [scoreBar(score.overall, 'out of 100')]),
        el('td', { text: `${score.scorer} ${score.scorerVersion}` }),
        el('td', { text: score.requestId ? 'Re-score' : 'First score' }),
      ]),
    );

  return section('Score history', [
    el('table', { className: 'history', attrs: { id: 'score-history' } }, [
      el('thead', {}, [
        el('tr', {}, [
          el('th', { text: 'When', attrs: { scope: 'col' } }),
          el('th', { text: 'Overall', attrs: { scope: 'col' } }),
          el('th', { text: 'Scorer', attrs: { scope: 'col' } }),
          el('th', { text: 'Kind', attrs: { scope: 'col' } }),
        ]),
      ]),
      el('tbody', {}, rows),
    ]),
  ]);
}

/**
 * Starts a re-score and waits for its scorecard to join the history. The button stays disabled
 * meanwhile: without an `Idempotency-Key`, every request is a new re-score.
 *
 * @param {string} id
 * @param {HTMLElement} button
 */
async function rescore(id, button) {
  const before = state.detail?.scores.length ?? 0;
  const path = `/api/calls/${encodeURIComponent(id)}`;
  state.rescoringId = id;
  button.setAttribute('disabled', '');
  setDetailMessage('Re-scoring…');

  try {
    await api(`${path}/rescore`, { method: 'POST' });
    for (let attempt = 0; attempt < 60; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (state.selectedId !== id) {
        return;
      }
      const { scores } = await getJson(`${path}/scores`);
      if (scores.length > before) {
        const call = await getJson(path);
        if (state.selectedId === id) {
          state.detail = { call, scores };
          renderDetail();
          updateListedCall(call);
          setDetailMessage(`Re-scored: ${call.score?.overall ?? '—'} / 100.`);
        }
        return;
      }
    }
    setDetailMessage('The re-score has not finished yet; it will show up in the history.');
  } catch (error) {
    setDetailMessage(`Re-score failed: ${messageOf(error)}`, true);
  } finally {
    state.rescoringId = null;
    // The panel may have been drawn again meanwhile: enable whichever button is current.
    button.removeAttribute('disabled');
    document.getElementById('rescore')?.removeAttribute('disabled');
  }
}

/**
 * @param {string} text
 * @param {boolean} [isError]
 */
function setDetailMessage(text, isError = false) {
  const message = document.getElementById('detail-message');
  if (message) {
    message.textContent = text;
    message.classList.toggle('error', isError);
  }
}

// ---- wiring -----------------------------------------------------------------------------------

function wire() {
  byId('sign-in-form').addEventListener('submit', (event) => void onSignIn(event));
  byId('sign-out').addEventListener('click', () => signOut());
  byId('refresh').addEventListener('click', () => void loadCalls());
  byId('load-more').addEventListener('click', () => void loadCalls({ append: true }));
  byId('filter-integration').addEventListener('change', () => void loadCalls());
  byId('filter-status').addEventListener('change', () => void loadCalls());
  byId('filters').addEventListener('submit', (event) => event.preventDefault());
  for (const format of /** @type {const} */ (['csv', 'ndjson'])) {
    const button = /** @type {HTMLButtonElement} */ (byId(`export-${format}`));
    button.addEventListener('click', () => void exportCalls(format, button));
  }
  byId('detail').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      closeDetail();
    }
  });
}

wire();
state.key = sessionStorage.getItem(keyStorageName);
if (state.key) {
  void start();
} else {
  showSignIn();
}
