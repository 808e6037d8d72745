// Call page: verdict and metadata, the score timeline (chart with the threshold line + the
// window scores), acoustic indicators, the AI risk analysis, alerts and their delivery, Telnyx's
// own verdict, recordings (audio player) and the Call Control commands. Live while streaming.

import { ApiError, AuthError, getBlob, getJson, postJson } from '../api.js';
import { createScoreChart } from '../charts.js';
import { h, notAvailable, replaceChildren, safeUrl, section } from '../dom.js';
import {
    formatDuration, formatNumber, formatScore, formatSeconds, formatTime, humanize, verdictLabel,
} from '../format.js';
import { callTitle, flaggedBadge, scrollTable, statusBadge, verdictBadge } from './common.js';

const REFRESH_MS = 5000;

/** Renders `build()` into `container` only when `value` changed (keeps focus and players). */
function keyed(container, value, build) {
    const key = JSON.stringify(value ?? null);
    if (container.dataset.key === key) {
        return;
    }
    container.dataset.key = key;
    replaceChildren(container, build());
}

function definitionList(rows) {
    return h('dl', { class: 'facts' }, rows.filter(Boolean).map(([term, value]) =>
        h('div', {}, h('dt', {}, term), h('dd', {}, value))));
}

function scalar(value) {
    if (value === null || value === undefined || value === '') {
        return '—';
    }
    if (typeof value === 'boolean') {
        return value ? 'yes' : 'no';
    }
    if (typeof value === 'number') {
        return formatNumber(value, 3);
    }
    if (typeof value === 'object') {
        return JSON.stringify(value);
    }
    return String(value);
}

/** Indicators as the API gives them: [{name, value, unit, description}] or {name: value|{...}}. */
function indicatorRows(indicators) {
    const rows = [];
    const push = (name, item) => {
        if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
            if ('value' in item) {
                rows.push({ name: item.name ?? name, value: item.value, unit: item.unit ?? '',
                    description: item.description ?? item.meaning ?? '' });
            } else {
                for (const [key, inner] of Object.entries(item)) {
                    push(name ? `${name} ${key}` : key, inner);
                }
            }
        } else {
            rows.push({ name, value: item, unit: '', description: '' });
        }
    };
    if (Array.isArray(indicators)) {
        indicators.forEach((item, i) => push(item?.name ?? `#${i + 1}`, item));
    } else if (indicators && typeof indicators === 'object') {
        for (const [name, item] of Object.entries(indicators)) {
            push(name, item);
        }
    }
    return rows;
}

function renderIndicators(indicators) {
    const rows = indicatorRows(indicators);
    if (rows.length === 0) {
        return notAvailable('no acoustic indicators were computed for this call');
    }
    return scrollTable('Acoustic indicators', ['Indicator', 'Value', 'Unit', 'Meaning'],
        rows.map((r) => h('tr', {},
            h('th', { scope: 'row' }, humanize(r.name)),
            h('td', { class: 'num' }, scalar(r.value)),
            h('td', {}, r.unit || ''),
            h('td', { class: 'muted' }, r.description || ''))));
}

function renderAnalysis(analysis, history) {
    if (!analysis || typeof analysis !== 'object') {
        return notAvailable('no AI risk analysis has run for this call');
    }
    // Shape of docs/api.md (GET /calls/{id}: analysis); unknown fields are listed generically.
    const shown = new Set(['id', 'risk_level', 'escalate', 'recommended_action', 'reason',
        'reasoning', 'indicators', 'summary', 'flagged', 'detector', 'source', 'trigger', 'at',
        'analysis_risk_level', 'raised_by_analysis', 'analysis_disagreed', 'error', 'model',
        'prompt_version', 'attempts', 'http_status', 'elapsed_ms']);
    const risk = analysis.risk_level ?? null;
    const cited = Array.isArray(analysis.indicators) ? analysis.indicators : [];
    const detector = analysis.detector && typeof analysis.detector === 'object'
        ? analysis.detector : null;
    const error = analysis.error && typeof analysis.error === 'object'
        ? `${analysis.error.message ?? ''}${analysis.error.code ? ` (${analysis.error.code})` : ''}`
        : analysis.error;
    return h('div', { class: 'analysis' },
        h('div', { class: 'badges' },
            risk ? h('span', { class: `badge risk risk-${risk}` }, `Risk: ${humanize(risk)}`) : null,
            analysis.escalate === true ? h('span', { class: 'badge flag' }, 'Escalate') : null,
            analysis.recommended_action
                ? h('span', { class: 'badge' }, `Action: ${humanize(analysis.recommended_action)}`)
                : null),
        analysis.summary ? h('p', {}, String(analysis.summary)) : null,
        analysis.reason ? h('p', {}, h('strong', {}, 'Decision: '), String(analysis.reason)) : null,
        h('h3', {}, 'Reasoning'),
        analysis.reasoning ? h('p', { class: 'reasoning' }, String(analysis.reasoning))
            : notAvailable('the analysis gave no reasoning'),
        cited.length > 0 ? [h('h3', {}, 'Indicators it cites'),
            h('ul', {}, cited.map((item) => h('li', {}, typeof item === 'object' && item !== null
                ? Object.values(item).map(scalar).join(' · ') : String(item))))] : null,
        definitionList([
            detector ? ['Detector', `${formatScore(detector.probability)} (${verdictLabel(detector.verdict)}` +
                `${detector.risk_level ? `, risk ${detector.risk_level}` : ''})`] : null,
            'analysis_risk_level' in analysis
                ? ['Language model risk', scalar(analysis.analysis_risk_level)] : null,
            'raised_by_analysis' in analysis
                ? ['Raised by the analysis', scalar(analysis.raised_by_analysis)] : null,
            'analysis_disagreed' in analysis
                ? ['Analysis disagreed', scalar(analysis.analysis_disagreed)] : null,
            analysis.source ? ['Source', scalar(analysis.source)] : null,
            analysis.trigger ? ['Trigger', scalar(analysis.trigger)] : null,
            analysis.at ? ['At', formatTime(analysis.at)] : null,
            analysis.model ? ['Model', scalar(analysis.model)] : null,
            error ? ['Error', h('span', { class: 'error' }, String(error))] : null,
            ...Object.entries(analysis).filter(([key]) => !shown.has(key))
                .map(([key, value]) => [humanize(key), scalar(value)]),
        ]),
        Array.isArray(history) && history.length > 1
            ? h('p', { class: 'muted small' }, `${history.length} analyses ran for this call; `,
                'the latest is shown.')
            : null);
}

function renderAlerts(alerts) {
    if (!Array.isArray(alerts)) {
        return notAvailable('alerts are not reported by this service version');
    }
    if (alerts.length === 0) {
        return h('p', { class: 'muted' }, 'No alert was sent for this call.');
    }
    return scrollTable('Alerts', ['Level', 'Channel', 'Delivery', 'Attempts', 'Created', 'Sent',
        'Last error'], alerts.map((a) => h('tr', { class: 'alert-row', dataset: { status: a.status ?? '' } },
        h('td', {}, scalar(a.level)),
        h('td', {}, scalar(a.channel)),
        h('td', {}, h('span', { class: `badge delivery delivery-${a.status ?? 'unknown'}` },
            scalar(a.status))),
        h('td', { class: 'num' }, scalar(a.attempts)),
        h('td', {}, formatTime(a.created_at)),
        h('td', {}, formatTime(a.sent_at)),
        h('td', { class: 'muted' }, a.last_error ?? ''))));
}

function renderTelnyx(telnyx) {
    if (!telnyx || telnyx.result === null || telnyx.result === undefined) {
        return notAvailable(telnyx?.error ? `Telnyx reported: ${telnyx.error}`
            : 'Telnyx deepfake detection is off (TELNYX_DEEPFAKE_DETECTION) or gave no result');
    }
    return definitionList([
        ['Result', h('span', { class: `badge telnyx telnyx-${telnyx.result}` }, scalar(telnyx.result))],
        ['Score', formatScore(telnyx.score)],
        ['Consistency', telnyx.consistency_pct === null || telnyx.consistency_pct === undefined
            ? '—' : `${formatNumber(telnyx.consistency_pct, 1)} %`],
        telnyx.error ? ['Error', telnyx.error] : null,
    ]);
}

/**
 * The service's own copy of a recording (Telnyx's links die after 10 minutes). The API needs the
 * token, which an <audio src> cannot send, so the file is fetched on demand and played from a
 * blob URL.
 */
function renderArchive(archive, label) {
    if (!archive) {
        return null;
    }
    if (archive.status !== 'stored' || !archive.audio_url) {
        const why = archive.last_error ? `: ${archive.last_error}` : '';
        const text = {
            pending: `Service copy: downloading (attempt ${archive.attempts})${why}`,
            failed: `Service copy: failed${why}`,
            deleted: 'Service copy: deleted by the retention policy (RECORDING_RETENTION_DAYS)',
            off: 'Service copy: off (RECORDING_DOWNLOAD=false)',
        }[archive.status] ?? `Service copy: ${archive.status}`;
        return h('p', { class: `archive archive-${archive.status}` }, text);
    }
    const kb = Number.isFinite(archive.bytes) ? `${formatNumber(archive.bytes / 1024, 0)} kB` : '';
    const holder = h('div', { class: 'archive-player' });
    const load = async (event) => {
        event.target.disabled = true;
        try {
            const blob = await getBlob(archive.audio_url);
            const source = URL.createObjectURL(blob);
            const name = archive.audio_url.endsWith('.mp3') ? 'recording.mp3' : 'recording.wav';
            replaceChildren(holder,
                h('audio', { controls: true, src: source, 'aria-label': `${label}, service copy` }),
                h('a', { href: source, download: name }, 'Save the service copy'));
        } catch (error) {
            event.target.disabled = false;
            replaceChildren(holder, notAvailable(`could not load the copy: ${error.message}`));
        }
    };
    replaceChildren(holder, h('button', { type: 'button', onclick: load }, 'Play the service copy'));
    return h('div', { class: 'archive archive-stored' },
        h('p', {}, `Service copy: stored ${formatTime(archive.stored_at)} · ${kb} · SHA-256 `,
            h('code', { class: 'sha256' }, archive.sha256 ?? '')),
        holder);
}

function renderRecordings(recordings) {
    if (!Array.isArray(recordings) || recordings.length === 0) {
        return h('p', { class: 'muted' }, 'No recording has been saved for this call.');
    }
    return h('ul', { class: 'recordings' }, recordings.map((r, i) => {
        const urls = { ...(r.public_urls ?? {}), ...(r.urls ?? {}) };
        const candidates = [r.public_urls?.wav, r.public_urls?.mp3, urls.wav, urls.mp3];
        const source = candidates.map(safeUrl).find(Boolean);
        const label = `Recording ${i + 1}`;
        return h('li', {},
            h('p', {}, h('strong', {}, label), ` · ${formatDuration(r.duration_seconds)} · saved `,
                formatTime(r.saved_at)),
            source ? h('audio', { controls: true, preload: 'none', src: source,
                'aria-label': `${label} of the call` }) : notAvailable('no playable URL'),
            h('p', { class: 'links' }, Object.entries(urls).filter(([, url]) => safeUrl(url))
                .map(([format, url]) => h('a', { href: safeUrl(url), rel: 'noreferrer',
                    target: '_blank' }, `Download ${format.toUpperCase()}`))),
            h('p', { class: 'muted small' }, 'Telnyx recording links expire 10 minutes after ',
                'the recording was saved.'),
            renderArchive(r.archive, label));
    }));
}

function renderCommands(commands) {
    if (!Array.isArray(commands) || commands.length === 0) {
        return h('p', { class: 'muted' }, 'No Call Control command was sent.');
    }
    return scrollTable('Call Control commands', ['Command', 'HTTP', 'Error', 'At'],
        commands.map((c) => h('tr', { class: c.error ? 'row-error' : null },
            h('td', { class: 'mono' }, c.command),
            h('td', { class: 'num' }, scalar(c.http_status)),
            h('td', {}, c.error ?? ''),
            h('td', {}, formatTime(c.at)))));
}

function timelineTable(timeline, threshold) {
    if (timeline.length === 0) {
        return h('p', { class: 'muted' }, 'No window has been scored yet.');
    }
    return h('details', { class: 'windows' },
        h('summary', {}, `Window scores (${timeline.length})`),
        scrollTable('Window scores', ['#', 'At', 'Speech', 'Window score', 'Call score', 'Verdict'],
            timeline.map((p) => h('tr', { class: p.call_score >= threshold ? 'row-high' : null },
                h('td', { class: 'num' }, scalar(p.seq)),
                h('td', { class: 'num' }, `${(p.at_ms / 1000).toFixed(2)} s`),
                h('td', { class: 'num' }, formatSeconds(p.speech_seconds)),
                h('td', { class: 'num' }, formatScore(p.window_score)),
                h('td', { class: 'num' }, formatScore(p.call_score)),
                h('td', {}, verdictLabel(p.verdict))))));
}

export function mountCall(main, ctx, id) {
    let destroyed = false;
    let call = null;
    let livePoints = null;  // points from the live feed while streaming
    const title = h('h1', { id: 'page-title', tabindex: '-1' }, `Call ${id}`);
    const badges = h('div', { class: 'badges' });
    const banner = h('div', {});
    const summary = h('div', {});
    const figure = h('figure', { class: 'chart', role: 'img' });
    const timeline = h('div', {});
    const analyzeResult = h('div', { role: 'status', 'aria-live': 'polite' });
    const analyzeButton = h('button', { type: 'button', class: 'button' }, 'Re-analyse the audio');
    const parts = {
        indicators: h('div', {}), analysis: h('div', {}), alerts: h('div', {}),
        telnyx: h('div', {}), recordings: h('div', {}), commands: h('div', {}),
    };
    const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');

    main.append(
        h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
            h('a', { href: '#/calls' }, 'Calls'), ' / ', h('span', { 'aria-current': 'page' }, id)),
        h('div', { class: 'page-head' }, title, badges),
        status, banner,
        section('summary-title', 'Summary', summary),
        section('timeline-title', 'Score timeline',
            h('p', { class: 'muted' }, 'Blue line: the call-level score; grey dots: each window; ',
                'dashed red line: the detection threshold.'),
            figure, timeline,
            h('div', { class: 'actions' }, analyzeButton), analyzeResult),
        h('div', { class: 'two-columns' },
            section('indicators-title', 'Acoustic indicators', parts.indicators),
            section('analysis-title', 'AI risk analysis', parts.analysis)),
        section('alerts-title', 'Alerts', parts.alerts),
        h('div', { class: 'two-columns' },
            section('telnyx-title', 'Telnyx verdict', parts.telnyx),
            section('recordings-title', 'Recordings', parts.recordings)),
        section('commands-title', 'Call Control commands', parts.commands));
    const chart = createScoreChart(figure, { height: 260, threshold: ctx.feed.threshold });

    function render() {
        title.textContent = `Call ${callTitle(call, id)}`;
        keyed(badges, [call.status, call.verdict, call.flagged], () => [
            statusBadge(call.status), verdictBadge(call.verdict), flaggedBadge(call.flagged)]);
        keyed(banner, [call.flagged, call.score], () => (call.flagged
            ? h('div', { class: 'banner flagged-banner' },
                h('strong', {}, 'Flagged: synthetic voice suspected. '),
                `Call score ${formatScore(call.score)} reached the threshold `,
                `${formatScore(ctx.feed.threshold)}.`)
            : null));
        keyed(summary, { ...call, timeline: undefined, alerts: undefined, recordings: undefined,
            commands: undefined, indicators: undefined, analysis: undefined, analyses: undefined },
        () => definitionList([
            ['Verdict', verdictLabel(call.verdict)],
            ['Call score', formatScore(call.score)],
            ['Log-likelihood ratio', call.llr === null ? '—' : formatNumber(call.llr, 2)],
            ['Speech scored', formatSeconds(call.speech_seconds)],
            ['From', call.from ?? '—'],
            ['To', call.to ?? '—'],
            ['Direction', call.direction ?? '—'],
            ['Status', call.status ?? '—'],
            ['Started', formatTime(call.started_at)],
            ['Answered', formatTime(call.answered_at)],
            ['Ended', formatTime(call.ended_at)],
            ['Duration', formatDuration(call.duration_seconds)],
            ['Hang-up cause', call.hangup_cause ?? '—'],
            call.escalation ? ['Escalation', `${call.escalation.action ?? '—'} at `
                + formatTime(call.escalation.at)] : null,
            ['STIR/SHAKEN', call.stir_shaken?.attestation
                ? `${call.stir_shaken.attestation}${call.stir_shaken.verified === true ? ', verified'
                    : call.stir_shaken.verified === false ? ', not verified' : ''}` : '—'],
            ['Call id', h('span', { class: 'mono' }, call.id)],
            ['Call Control id', h('span', { class: 'mono' }, call.call_control_id ?? '—')],
            call.last_error ? ['Last error', h('span', { class: 'error' }, call.last_error)] : null,
        ]));
        const points = (call.timeline ?? []).map((p) => ({
            atMs: p.at_ms, callScore: p.call_score, windowScore: p.window_score,
        }));
        const useLive = livePoints && livePoints.length > points.length;
        chart.set(useLive ? livePoints : points, ctx.feed.threshold);
        keyed(timeline, [call.timeline?.length, call.timeline_truncated], () => [
            timelineTable(call.timeline ?? [], ctx.feed.threshold),
            call.timeline_truncated ? h('p', { class: 'muted' }, 'Only the first points are shown.')
                : null]);
        keyed(parts.indicators, call.indicators, () => renderIndicators(call.indicators));
        keyed(parts.analysis, [call.analysis, call.analyses?.length],
            () => renderAnalysis(call.analysis, call.analyses));
        keyed(parts.alerts, call.alerts, () => renderAlerts(call.alerts));
        keyed(parts.telnyx, call.telnyx_deepfake, () => renderTelnyx(call.telnyx_deepfake));
        keyed(parts.recordings, call.recordings, () => renderRecordings(call.recordings));
        keyed(parts.commands, call.commands, () => renderCommands(call.commands));
    }

    async function load() {
        try {
            const fresh = await getJson(`/calls/${encodeURIComponent(id)}`);
            if (destroyed) {
                return;
            }
            call = fresh;
            status.hidden = true;
            render();
        } catch (error) {
            if (error instanceof AuthError) {
                ctx.onAuthError();
            } else if (!destroyed) {
                status.hidden = false;
                status.className = 'error';
                status.textContent = error instanceof ApiError && error.status === 404
                    ? `There is no call “${id}”.` : `Cannot load the call: ${error.message}`;
            }
        }
    }

    analyzeButton.addEventListener('click', async () => {
        analyzeButton.disabled = true;
        analyzeResult.textContent = 'Re-scoring the audio collected so far…';
        try {
            const result = await postJson(`/calls/${encodeURIComponent(call?.id ?? id)}/analyze`);
            if (destroyed) {
                return;
            }
            replaceChildren(analyzeResult, h('p', { class: 'muted' },
                `Re-analysis: score ${formatScore(result.score)}, ${verdictLabel(result.verdict)}, `,
                `${formatNumber(result.windows_scored)} windows over `,
                `${formatSeconds(result.speech_seconds)} of speech `,
                `(${formatSeconds(result.audio_seconds)} of audio).`));
            load();
        } catch (error) {
            if (error instanceof AuthError) {
                ctx.onAuthError();
            } else if (!destroyed) {
                analyzeResult.textContent = `Re-analysis failed: ${error.message}`;
            }
        } finally {
            analyzeButton.disabled = false;
        }
    });

    const onChange = (event) => {
        const { type, call: live } = event.detail;
        if (!call || !live || live.callId !== call.id) {
            return;
        }
        if (type === 'score' || type === 'flagged') {
            livePoints = live.points.slice();
            call.score = live.latest?.call_score ?? call.score;
            call.verdict = live.latest?.verdict ?? call.verdict;
            call.speech_seconds = live.latest?.speech_seconds ?? call.speech_seconds;
            call.flagged = call.flagged || live.flagged;
            render();
        }
        if (type === 'ended' || type === 'flagged') {
            setTimeout(load, 1000);  // the final state, the alert, the recording
        }
    };
    ctx.feed.addEventListener('change', onChange);
    load();
    // Sections re-render only when their data changed, so polling keeps focus and the player.
    const timer = setInterval(load, REFRESH_MS);

    return {
        destroy() {
            destroyed = true;
            clearInterval(timer);
            ctx.feed.removeEventListener('change', onChange);
            chart.destroy();
        },
    };
}
