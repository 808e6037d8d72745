// Pieces shared by the views: badges, the health strip, tables, call links.

import { h, replaceChildren } from '../dom.js';
import {
    formatDuration, formatNumber, formatScore, formatSeconds, formatTime, verdictLabel,
} from '../format.js';

export function verdictBadge(verdict) {
    const name = verdict || 'none';
    return h('span', { class: `badge verdict verdict-${name}` }, verdictLabel(verdict));
}

export function flaggedBadge(flagged) {
    return flagged ? h('span', { class: 'badge flag' }, 'Flagged') : null;
}

export function statusBadge(status) {
    return h('span', { class: `badge status status-${status || 'unknown'}` }, status || 'unknown');
}

export function callHref(id) {
    return `#/calls/${encodeURIComponent(id)}`;
}

/** "+13125550100 → +13125550199" or the id while unknown. */
export function callTitle(call, fallbackId) {
    if (call && (call.from || call.to)) {
        return `${call.from || 'unknown'} → ${call.to || 'unknown'}`;
    }
    return `Call ${fallbackId ?? call?.id ?? ''}`;
}

/** A table in a horizontally scrollable, focusable region (narrow screens). */
export function scrollTable(label, head, rows, { caption } = {}) {
    return h('div', { class: 'table-scroll', role: 'region', 'aria-label': label, tabindex: '0' },
        h('table', {},
            caption ? h('caption', {}, caption) : null,
            h('thead', {}, h('tr', {}, head.map((title) => h('th', { scope: 'col' }, title)))),
            h('tbody', {}, rows)));
}

/** One row of the call list (live view's recent calls, and the call list). */
export function callRow(call, { compact = false } = {}) {
    const cells = [
        h('td', {}, h('a', { href: callHref(call.id), class: 'row-link' }, formatTime(call.started_at))),
        h('td', { class: 'nowrap' }, call.from ?? '—'),
        h('td', { class: 'nowrap' }, call.to ?? '—'),
        h('td', {}, statusBadge(call.status)),
        h('td', {}, verdictBadge(call.verdict), ' ', flaggedBadge(call.flagged)),
        h('td', { class: 'num' }, formatScore(call.score)),
    ];
    if (!compact) {
        cells.push(
            h('td', { class: 'num' }, formatSeconds(call.speech_seconds)),
            h('td', { class: 'num' }, formatDuration(call.duration_seconds)),
            h('td', { class: 'mono' }, call.direction ?? '—'),
        );
    }
    return h('tr', { class: call.flagged ? 'row-flagged' : null, dataset: { callId: call.id } },
        cells);
}

export const CALL_ROW_HEAD = ['Started', 'From', 'To', 'Status', 'Verdict', 'Score',
    'Speech', 'Duration', 'Direction'];
export const CALL_ROW_HEAD_COMPACT = CALL_ROW_HEAD.slice(0, 6);

/** The health strip of the live view (values filled by `fillHealthStrip`). */
export function healthStrip() {
    return h('dl', { class: 'health-strip', 'aria-label': 'Service health' });
}

export function fillHealthStrip(strip, health, error) {
    if (error) {
        replaceChildren(strip, h('div', { class: 'stat' }, h('dt', {}, 'Health'),
            h('dd', { class: 'bad' }, error)));
        return;
    }
    const stat = (label, value, cls) => h('div', { class: 'stat' }, h('dt', {}, label),
        h('dd', { class: cls ?? null }, value));
    replaceChildren(strip,
        stat('Status', health.status, health.status === 'ok' ? 'good' : 'bad'),
        stat('Uptime', formatDuration(health.uptimeSeconds)),
        stat('Active streams', formatNumber(health.activeSessions)),
        stat('Calls', formatNumber(health.callsStarted)),
        stat('Flagged', formatNumber(health.callsFlagged), health.callsFlagged > 0 ? 'warn' : null),
        stat('Frames/s', health.rates ? formatNumber(health.rates.frames, 0) : '…'),
        stat('Errors', h('a', { href: '#/health' }, formatNumber(health.errorTotal)),
            health.errorTotal > 0 ? 'bad' : null));
}

/**
 * Re-renders `container` with `build()` unless `key` (a digest of the data) is unchanged, and
 * keeps keyboard focus on the same call's row link across the refresh (auto-refreshing tables
 * must not throw the focus of a keyboard user back to the top of the page).
 */
export function refreshKeepingFocus(container, key, build) {
    if (container.dataset.key === key) {
        return;
    }
    container.dataset.key = key;
    const active = document.activeElement;
    const focusedRow = active && container.contains(active)
        ? active.closest('[data-call-id]')?.dataset.callId : null;
    replaceChildren(container, build());
    if (focusedRow) {
        const row = [...container.querySelectorAll('[data-call-id]')]
            .find((el) => el.dataset.callId === focusedRow);
        row?.querySelector('a')?.focus();
    }
}

/** Sets a text only when it changed (a live region must not repeat itself every refresh). */
export function setText(el, text) {
    if (el.textContent !== text) {
        el.textContent = text;
    }
}
