// Live view: a card per call streaming now (live score chart, caller/callee, speech, verdict;
// flagged calls first and in red), the health strip, and the most recent calls.

import { AuthError, getJson } from '../api.js';
import { createScoreChart } from '../charts.js';
import { announce, h, replaceChildren } from '../dom.js';
import { formatScore, formatSeconds, verdictLabel } from '../format.js';
import { HealthSampler } from '../health_data.js';
import {
    CALL_ROW_HEAD_COMPACT, callHref, callRow, callTitle, fillHealthStrip, healthStrip,
    refreshKeepingFocus, scrollTable,
} from './common.js';

const REFRESH_MS = 5000;

export function mountLive(main, ctx) {
    const { feed } = ctx;
    const meta = new Map();      // call_id -> the call from GET /calls/{id}
    const fetching = new Set();  // call ids being fetched
    const cards = new Map();     // call_id -> {el, chart, ...}
    const timers = [];
    let destroyed = false;

    const strip = healthStrip();
    const grid = h('div', { class: 'live-grid', role: 'list', 'aria-label': 'Calls streaming now' });
    const empty = h('p', { class: 'empty' },
        'No call is streaming now. A call appears here as soon as its audio arrives.');
    const recentBody = h('div', {});
    main.append(
        h('div', { class: 'page-head' },
            h('h1', { id: 'page-title', tabindex: '-1' }, 'Live calls'),
            h('p', { class: 'muted' },
                'Each card updates as every half second of speech is scored. A call is flagged ',
                'when its score reaches the threshold with a synthetic verdict.')),
        strip,
        h('section', { class: 'live', 'aria-labelledby': 'live-title' },
            h('h2', { id: 'live-title', class: 'visually-hidden' }, 'Streaming now'),
            grid, empty),
        h('section', { class: 'panel', 'aria-labelledby': 'recent-title' },
            h('div', { class: 'panel-head' },
                h('h2', { id: 'recent-title' }, 'Recent calls'),
                h('a', { href: '#/calls' }, 'All calls')),
            recentBody));

    function fail(error) {
        if (error instanceof AuthError) {
            ctx.onAuthError();
            return true;
        }
        return false;
    }

    function fetchMeta(callId) {
        if (meta.has(callId) || fetching.has(callId)) {
            return;
        }
        fetching.add(callId);
        getJson(`/calls/${encodeURIComponent(callId)}`)
            .then((call) => {
                meta.set(callId, call);
                if (!destroyed) {
                    updateCard(feed.get(callId));
                }
            })
            .catch((error) => { fail(error); })
            .finally(() => fetching.delete(callId));
    }

    function createCard(call) {
        const titleId = `card-title-${cards.size}-${Math.random().toString(36).slice(2, 8)}`;
        const link = h('a', { href: callHref(call.callId) }, `Call ${call.callId}`);
        const badges = h('div', { class: 'badges' });
        const score = h('dd', { class: 'big', dataset: { field: 'score' } }, '—');
        const speech = h('dd', { dataset: { field: 'speech' } }, '—');
        const verdict = h('dd', { dataset: { field: 'verdict' } }, '—');
        const figure = h('figure', { class: 'chart compact', role: 'img' });
        const el = h('article', {
            class: 'live-card', role: 'listitem', 'aria-labelledby': titleId,
            dataset: { callId: call.callId, state: 'live', flagged: 'false' },
        },
        h('header', { class: 'card-head' }, h('h3', { id: titleId }, link), badges),
        h('dl', { class: 'card-stats' },
            h('div', {}, h('dt', {}, 'Call score'), score),
            h('div', {}, h('dt', {}, 'Speech'), speech),
            h('div', {}, h('dt', {}, 'Verdict'), verdict)),
        figure);
        grid.append(el);
        const chart = createScoreChart(figure, { height: 140, compact: true,
            threshold: feed.threshold });
        const card = { el, chart, link, badges, score, speech, verdict, shown: -1 };
        cards.set(call.callId, card);
        return card;
    }

    function updateCard(call) {
        if (!call) {
            return;
        }
        const card = cards.get(call.callId) ?? createCard(call);
        const info = meta.get(call.callId);
        card.link.textContent = callTitle(info, call.callId);
        const latest = call.latest;
        const verdict = latest?.verdict ?? null;
        card.el.dataset.state = call.ended ? 'ended' : 'live';
        card.el.dataset.flagged = String(call.flagged);
        card.el.classList.toggle('flagged', call.flagged);
        card.el.classList.toggle('ended', call.ended);
        card.score.textContent = formatScore(latest?.call_score);
        card.speech.textContent = latest ? formatSeconds(latest.speech_seconds) : '—';
        card.verdict.textContent = verdictLabel(verdict);
        replaceChildren(card.badges,
            h('span', { class: `badge verdict verdict-${verdict || 'none'}` }, verdictLabel(verdict)),
            call.flagged ? h('span', { class: 'badge flag' }, 'Flagged') : null,
            h('span', { class: `badge state ${call.ended ? 'state-ended' : 'state-live'}` },
                call.ended ? 'Ended' : 'Live'));
        if (card.shown !== call.points.length || call.ended) {
            card.chart.set(call.points, feed.threshold);
            card.shown = call.points.length;
        }
        fetchMeta(call.callId);
    }

    function sync() {
        const list = feed.list().sort((a, b) =>
            (a.ended - b.ended) || (b.flagged - a.flagged) || (b.startedAtMs - a.startedAtMs));
        const keep = new Set(list.map((c) => c.callId));
        for (const [id, card] of cards) {
            if (!keep.has(id)) {
                card.chart.destroy();
                card.el.remove();
                cards.delete(id);
            }
        }
        for (const call of list) {
            updateCard(call);
            grid.append(cards.get(call.callId).el);  // re-append = reorder
        }
        empty.hidden = list.length > 0;
    }

    async function refreshRecent() {
        try {
            const page = await getJson('/calls?limit=8');
            if (destroyed) {
                return;
            }
            refreshKeepingFocus(recentBody, JSON.stringify(page.calls), () => (page.calls.length === 0
                ? h('p', { class: 'empty' }, 'No calls yet.')
                : scrollTable('Recent calls', CALL_ROW_HEAD_COMPACT,
                    page.calls.map((c) => callRow(c, { compact: true })))));
        } catch (error) {
            if (!fail(error) && !destroyed) {
                refreshKeepingFocus(recentBody, `error:${error.message}`,
                    () => h('p', { class: 'error' }, `Cannot load calls: ${error.message}`));
            }
        }
    }

    const sampler = new HealthSampler();
    async function refreshHealth() {
        try {
            const health = await sampler.sample();
            if (!destroyed) {
                fillHealthStrip(strip, health);
            }
        } catch (error) {
            if (!fail(error) && !destroyed) {
                fillHealthStrip(strip, null, `unreachable (${error.message})`);
            }
        }
    }

    let recentTimer = null;
    function soon() {  // debounced refresh of the recent calls after a call event
        clearTimeout(recentTimer);
        recentTimer = setTimeout(() => {
            refreshRecent();
            refreshHealth();
        }, 400);
    }

    const onChange = (event) => {
        const { type, call } = event.detail;
        if (type === 'flagged') {
            const info = meta.get(call.callId);
            announce(`Alert: ${callTitle(info, call.callId)} flagged, synthetic voice suspected, ` +
                `score ${formatScore(call.latest?.call_score)}.`);
        }
        if (type === 'score' && call && cards.has(call.callId)) {
            updateCard(call);
        } else {
            sync();
        }
        if (type === 'started' || type === 'ended' || type === 'flagged') {
            soon();
        }
    };
    feed.addEventListener('change', onChange);
    sync();
    refreshRecent();
    refreshHealth();
    timers.push(setInterval(refreshRecent, REFRESH_MS), setInterval(refreshHealth, REFRESH_MS));

    return {
        destroy() {
            destroyed = true;
            feed.removeEventListener('change', onChange);
            timers.forEach(clearInterval);
            clearTimeout(recentTimer);
            for (const card of cards.values()) {
                card.chart.destroy();
            }
        },
    };
}
