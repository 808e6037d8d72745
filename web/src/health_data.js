// Health figures from GET /health and GET /ready (no token) and GET /metrics (Prometheus text):
// uptime, active sessions, readiness (database, store writer), alert delivery, the scoring pool,
// throughput (rates between two samples) and error counts.

import { getJson, getReadiness, getText, metricSum, parsePrometheus } from './api.js';

const ERROR_METRICS = [
    ['Media stream errors', 'dvd_media_stream_errors_total', {}],
    ['Decode errors', 'dvd_media_decode_errors_total', {}],
    ['Rejected streams', 'dvd_media_streams_rejected_total', {}],
    ['Failed commands', 'dvd_commands_total', { status: 'failed' }],
    ['Webhook errors', 'dvd_webhooks_total', { result: 'error' }],
    ['Bad signatures', 'dvd_webhooks_total', { result: 'bad_signature' }],
    ['Store errors', 'dvd_store_errors_total', {}],
    ['Store rows dropped', 'dvd_store_dropped_total', {}],
    ['Store rows failed', 'dvd_store_failed_total', {}],
    ['Alerts failed', 'dvd_alerts_failed_total', {}],
    ['Windows dropped (scoring pool behind)', 'dvd_scoring_skipped_total', {}],
    ['Recording copies failed', 'dvd_recordings_failed_total', {}],
    ['HTTP 5xx', 'dvd_http_responses_5xx_total', {}],
];

const RATE_METRICS = {
    frames: 'dvd_media_frames_total',
    audioSeconds: 'dvd_audio_seconds_total',
    windows: 'dvd_windows_scored_total',
    requests: 'dvd_http_requests_total',
    skipped: 'dvd_scoring_skipped_total',
};

/** Samples /health, /ready and /metrics; rates need two samples (the first call gives none). */
export class HealthSampler {
    constructor() {
        this.previous = null;
    }

    async sample() {
        const [health, ready, text] = await Promise.all([getJson('/health'), getReadiness(),
            getText('/metrics')]);
        const metrics = parsePrometheus(text);
        const now = performance.now();
        const totals = Object.fromEntries(Object.entries(RATE_METRICS)
            .map(([key, name]) => [key, metricSum(metrics, name)]));
        let rates = null;
        if (this.previous) {
            const seconds = (now - this.previous.at) / 1000;
            if (seconds > 0.2) {
                rates = Object.fromEntries(Object.keys(RATE_METRICS).map((key) =>
                    [key, Math.max(0, (totals[key] - this.previous.totals[key]) / seconds)]));
            }
        }
        this.previous = { at: now, totals };
        const errors = ERROR_METRICS.map(([label, name, where]) =>
            ({ label, value: metricSum(metrics, name, where) }));
        return {
            status: health.status ?? 'unknown',
            version: health.version ?? '',
            uptimeSeconds: health.uptime_seconds ?? null,
            activeSessions: health.active_sessions ?? 0,
            ready: ready.status === 'ready',
            // Only with an alert webhook configured: null otherwise.
            alertsFailing: metrics.dvd_alerts_failing ? metricSum(metrics, 'dvd_alerts_failing') > 0
                : null,
            alertsDelivered: metricSum(metrics, 'dvd_alerts_delivered_total'),
            // Only with a scoring pool (serve's default): null when the model runs inline.
            scoringQueued: metrics.dvd_scoring_queue_depth
                ? metricSum(metrics, 'dvd_scoring_queue_depth') : null,
            database: ready.checks?.database ?? null,
            storeWriter: ready.checks?.store_writer ?? null,
            callsStarted: metricSum(metrics, 'dvd_calls_started_total'),
            callsFlagged: metricSum(metrics, 'dvd_calls_flagged_total'),
            callsEnded: metricSum(metrics, 'dvd_calls_ended_total'),
            dashboards: metricSum(metrics, 'dvd_dashboard_subscribers'),
            totals,
            rates,
            errors,
            errorTotal: errors.reduce((sum, e) => sum + e.value, 0),
        };
    }
}
