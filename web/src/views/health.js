// Health panel: uptime, active sessions, readiness, throughput and errors from GET /health,
// GET /ready and GET /metrics.

import { AuthError } from '../api.js';
import { h, replaceChildren, section } from '../dom.js';
import { formatDuration, formatNumber } from '../format.js';
import { HealthSampler } from '../health_data.js';
import { scrollTable } from './common.js';

const REFRESH_MS = 3000;

function card(label, value, note, cls) {
    return h('div', { class: `stat-card ${cls ?? ''}` },
        h('dt', {}, label), h('dd', {}, value), note ? h('p', { class: 'muted small' }, note) : null);
}

function databaseCard(database) {
    if (!database) {
        return card('Database', 'unknown');
    }
    return database.ok
        ? card('Database', 'answers', `ping ${formatNumber(database.latency_ms, 1)} ms`, 'good')
        : card('Database', 'does not answer', database.error ?? null, 'bad');
}

function writerCard(writer) {
    if (!writer) {
        return null;
    }
    const queued = `${formatNumber(writer.queue_depth)} of ${formatNumber(writer.queue_capacity)} queued`;
    if (writer.failing) {
        return card('Store writer', 'failing', `retrying; ${queued}`, 'bad');
    }
    return card('Store writer', writer.ok ? 'keeping up' : 'backlog', queued, writer.ok ? 'good' : 'bad');
}

function alertsCard(s) {
    if (s.alertsFailing === null) {
        return card('Alert delivery', 'off', 'no ALERT_WEBHOOK configured');
    }
    const delivered = `${formatNumber(s.alertsDelivered)} delivered`;
    return s.alertsFailing
        ? card('Alert delivery', 'failing', `retrying; ${delivered}`, 'bad')
        : card('Alert delivery', 'working', delivered, 'good');
}

function scoringCard(s) {
    if (s.scoringQueued === null) {
        return card('Scoring', 'inline', 'the model runs on the network workers (--scoring-threads -1)');
    }
    const note = `${formatNumber(s.scoringQueued)} windows queued; `
        + `${formatNumber(s.totals.skipped)} dropped since start`;
    // Dropping now: windows were dropped since the previous sample.
    return s.rates && s.rates.skipped > 0
        ? card('Scoring', 'dropping windows', note, 'bad')
        : card('Scoring', 'keeping up', note, 'good');
}

export function mountHealth(main, ctx) {
    let destroyed = false;
    const overview = h('dl', { class: 'stat-cards', 'aria-label': 'Service' });
    const throughput = h('dl', { class: 'stat-cards', 'aria-label': 'Throughput' });
    const errors = h('div', {});
    const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
    main.append(
        h('div', { class: 'page-head' },
            h('h1', { id: 'page-title', tabindex: '-1' }, 'Service health'),
            h('p', { class: 'muted' }, 'From GET /health, GET /ready and GET /metrics, every 3 seconds. ',
                h('a', { href: '/metrics', target: '_blank', rel: 'noreferrer' }, 'Raw metrics'),
                ' need the API token.')),
        status,
        section('overview-title', 'Service', overview),
        section('throughput-title', 'Throughput', throughput),
        section('errors-title', 'Errors since start', errors));

    const sampler = new HealthSampler();
    async function refresh() {
        try {
            const s = await sampler.sample();
            if (destroyed) {
                return;
            }
            status.hidden = true;
            replaceChildren(overview,
                card('Status', s.status, s.version ? `version ${s.version}` : null,
                    s.status === 'ok' ? 'good' : 'bad'),
                card('Ready', s.ready ? 'yes' : 'no', 'GET /ready', s.ready ? 'good' : 'bad'),
                databaseCard(s.database),
                writerCard(s.storeWriter),
                alertsCard(s),
                scoringCard(s),
                card('Uptime', formatDuration(s.uptimeSeconds)),
                card('Active media streams', formatNumber(s.activeSessions)),
                card('Calls started', formatNumber(s.callsStarted)),
                card('Calls ended', formatNumber(s.callsEnded)),
                card('Calls flagged', formatNumber(s.callsFlagged), null,
                    s.callsFlagged > 0 ? 'warn' : null),
                card('Dashboards connected', formatNumber(s.dashboards)));
            const rate = (key, unit, digits = 1) => (s.rates
                ? `${formatNumber(s.rates[key], digits)} ${unit}` : 'measuring…');
            replaceChildren(throughput,
                card('Media frames', rate('frames', '/s', 0), `${formatNumber(s.totals.frames)} in all`),
                card('Audio decoded', rate('audioSeconds', 's/s'),
                    `${formatDuration(s.totals.audioSeconds)} in all`),
                card('Windows scored', rate('windows', '/s'), `${formatNumber(s.totals.windows)} in all`),
                card('HTTP requests', rate('requests', '/s'), `${formatNumber(s.totals.requests)} in all`));
            replaceChildren(errors, scrollTable('Errors since start', ['Counter', 'Count'],
                s.errors.map((e) => h('tr', { class: e.value > 0 ? 'row-error' : null },
                    h('th', { scope: 'row' }, e.label), h('td', { class: 'num' }, formatNumber(e.value))))));
        } catch (error) {
            if (error instanceof AuthError) {
                ctx.onAuthError();
            } else if (!destroyed) {
                status.hidden = false;
                status.className = 'error';
                status.textContent = `The service does not answer: ${error.message}`;
            }
        }
    }
    refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return {
        destroy() {
            destroyed = true;
            clearInterval(timer);
        },
    };
}
