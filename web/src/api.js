// The service's JSON API (docs/api.md), with the API token kept for this browser session only.

const TOKEN_KEY = 'dvd.apiToken';

export class AuthError extends Error {
    constructor() {
        super('the API token is missing or was not accepted');
        this.name = 'AuthError';
    }
}

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.name = 'ApiError';
        this.status = status;
        this.code = code;
    }
}

export function token() {
    try {
        return window.sessionStorage.getItem(TOKEN_KEY) ?? '';
    } catch {
        return '';
    }
}

export function setToken(value) {
    window.sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
    window.sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
    const out = { Accept: 'application/json', ...extra };
    const t = token();
    if (t) {
        out.Authorization = `Bearer ${t}`;
    }
    return out;
}

async function failure(response) {
    if (response.status === 401) {
        return new AuthError();
    }
    let code = 'http_error';
    let message = `${response.status} ${response.statusText}`;
    try {
        const body = await response.json();
        code = body?.error?.code ?? code;
        message = body?.error?.message ?? message;
    } catch {
        // not JSON: keep the status line
    }
    return new ApiError(response.status, code, message);
}

export async function getJson(path, { signal } = {}) {
    const response = await fetch(path, { headers: headers(), signal, cache: 'no-store' });
    if (!response.ok) {
        throw await failure(response);
    }
    return response.json();
}

export async function getText(path, { signal } = {}) {
    const response = await fetch(path, { headers: headers({ Accept: 'text/plain' }), signal,
        cache: 'no-store' });
    if (!response.ok) {
        throw await failure(response);
    }
    return response.text();
}

/**
 * GET /ready (no token): {status: 'ready'|'not_ready', checks: {database, store_writer}}. Its 503
 * carries the same JSON, so both are answers; anything else is an error.
 */
export async function getReadiness({ signal } = {}) {
    const response = await fetch('/ready', { headers: headers(), signal, cache: 'no-store' });
    if (response.status !== 200 && response.status !== 503) {
        throw await failure(response);
    }
    return response.json();
}

/** A binary resource (a recording's stored copy) fetched with the token, as a Blob. */
export async function getBlob(path, { signal } = {}) {
    const response = await fetch(path, { headers: headers({ Accept: '*/*' }), signal,
        cache: 'no-store' });
    if (!response.ok) {
        throw await failure(response);
    }
    return response.blob();
}

export async function postJson(path, body, { signal } = {}) {
    const response = await fetch(path, {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
    });
    if (!response.ok) {
        throw await failure(response);
    }
    return response.json();
}

/**
 * Whether the service wants a token and whether ours is accepted. Always 200 (never a 401 in the
 * browser console): {token_required, authenticated, threshold}.
 */
export async function session() {
    return getJson('/dashboard/session');
}

/**
 * The event-stream URL. EventSource cannot send headers, and the API token must not appear in a
 * URL (access logs keep URLs), so with a token we first ask for a one-time ticket (valid 60 s).
 */
export async function eventsUrl() {
    if (!token()) {
        return '/events';
    }
    const { ticket } = await postJson('/events/ticket');
    return `/events?ticket=${encodeURIComponent(ticket)}`;
}

/** Parses Prometheus text format 0.0.4 into {name: [{labels, value}]}. */
export function parsePrometheus(text) {
    const out = {};
    for (const raw of text.split('\n')) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) {
            continue;
        }
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
        if (!match) {
            continue;
        }
        const labels = {};
        if (match[3]) {
            for (const pair of match[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
                labels[pair[1]] = pair[2];
            }
        }
        const value = Number(match[4]);
        (out[match[1]] ??= []).push({ labels, value });
    }
    return out;
}

/** Sum of a metric's samples whose labels include `where`; 0 when absent. */
export function metricSum(metrics, name, where = {}) {
    return (metrics[name] ?? [])
        .filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v))
        .reduce((total, s) => total + (Number.isFinite(s.value) ? s.value : 0), 0);
}
