// Formatting helpers: every number and time shown to people goes through here.

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** "2026-11-26 14:35:13" in the browser's time zone; "—" for null. */
export function formatTime(value) {
    if (value === null || value === undefined || value === '') {
        return '—';
    }
    const date = typeof value === 'number' ? new Date(value) : new Date(String(value));
    if (Number.isNaN(date.getTime())) {
        return String(value);
    }
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
        `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** "1 h 02 min", "3 min 05 s", "4.2 s"; "—" for null. */
export function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) {
        return '—';
    }
    const s = Number(seconds);
    if (s < 60) {
        return `${s.toFixed(1)} s`;
    }
    const whole = Math.round(s);
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const rest = whole % 60;
    return h > 0 ? `${h} h ${pad(m)} min` : `${m} min ${pad(rest)} s`;
}

/** Seconds with one decimal: "18.0 s"; "—" for null. */
export function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) {
        return '—';
    }
    return `${Number(seconds).toFixed(1)} s`;
}

/** A probability as "0.93"; "—" for null. */
export function formatScore(score) {
    if (score === null || score === undefined || !Number.isFinite(Number(score))) {
        return '—';
    }
    return Number(score).toFixed(2);
}

/** A number with at most `digits` decimals; "—" for null. */
export function formatNumber(value, digits = 2) {
    if (value === null || value === undefined || value === '') {
        return '—';
    }
    const n = Number(value);
    if (!Number.isFinite(n)) {
        return String(value);
    }
    return Number.isInteger(n) ? n.toLocaleString('en-US')
        : n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** "speech_rate_syllables_per_s" -> "Speech rate syllables per s". */
export function humanize(name) {
    const text = String(name).replace(/[_-]+/g, ' ').trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Verdict names of the API, in words. */
export function verdictLabel(verdict) {
    switch (verdict) {
        case 'synthetic': return 'Synthetic';
        case 'human': return 'Human';
        case 'uncertain': return 'Uncertain';
        case 'insufficient_speech': return 'Not enough speech';
        case null: case undefined: case '': return 'No score yet';
        default: return humanize(verdict);
    }
}

/** A short form of a long id for narrow places ("c3d8e33c…"). */
export function shortId(id) {
    const text = String(id ?? '');
    return text.length > 12 ? `${text.slice(0, 8)}…` : text;
}
