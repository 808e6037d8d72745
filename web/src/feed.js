// The live feed: one EventSource on GET /events and the state of the calls streaming now.
// Views listen to it ('change' events with {type, call}); it never touches the DOM.

import { eventsUrl } from './api.js';

/** How long an ended call stays in the live view. */
const ENDED_KEEP_MS = 60_000;

export class LiveFeed extends EventTarget {
    constructor() {
        super();
        /** call_id -> live call (see #entry) */
        this.calls = new Map();
        this.threshold = 0.75;
        this.status = 'connecting';
        this.source = null;
        this.pruneTimer = null;
        /** bumped by every connect() and close(), so a late ticket is not used */
        this.attempt = 0;
    }

    async connect() {
        this.close();
        this.setStatus('connecting');
        const attempt = ++this.attempt;
        let url;
        try {
            url = await eventsUrl();
        } catch {
            // No ticket (token refused, or the service is down): the 'closed' handler finds out.
            if (attempt === this.attempt) {
                this.setStatus('closed');
                this.dispatchEvent(new CustomEvent('closed'));
            }
            return;
        }
        if (attempt !== this.attempt) {
            return;  // closed or reconnected while the ticket was on its way
        }
        const source = new EventSource(url);
        this.source = source;
        source.addEventListener('open', () => this.setStatus('live'));
        source.addEventListener('error', () => {
            // The browser reconnects by itself unless the response was not an event stream; a
            // ticket works once, so its retry gets a 401 and closes: then 'closed' reconnects
            // with a fresh ticket.
            this.setStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
            if (source.readyState === EventSource.CLOSED) {
                this.dispatchEvent(new CustomEvent('closed'));
            }
        });
        source.addEventListener('snapshot', (e) => this.#onSnapshot(JSON.parse(e.data)));
        source.addEventListener('stream_started', (e) => this.#onStarted(JSON.parse(e.data)));
        source.addEventListener('score', (e) => this.#onScore(JSON.parse(e.data)));
        source.addEventListener('stream_ended', (e) => this.#onEnded(JSON.parse(e.data)));
        this.pruneTimer = setInterval(() => this.#prune(), 5000);
    }

    close() {
        this.attempt += 1;
        if (this.source) {
            this.source.close();
            this.source = null;
        }
        if (this.pruneTimer) {
            clearInterval(this.pruneTimer);
            this.pruneTimer = null;
        }
    }

    setStatus(status) {
        this.status = status;
        this.dispatchEvent(new CustomEvent('status', { detail: status }));
    }

    /** Live calls, newest first; ended ones (kept a minute) after the live ones. */
    list() {
        return [...this.calls.values()].sort((a, b) =>
            (a.ended === b.ended ? 0 : a.ended ? 1 : -1) || b.startedAtMs - a.startedAtMs);
    }

    get(callId) {
        return this.calls.get(callId);
    }

    #entry(data) {
        let call = this.calls.get(data.call_id);
        if (!call) {
            call = {
                callId: data.call_id,
                callControlId: data.call_control_id ?? '',
                streamId: data.stream_id ?? '',
                encoding: data.encoding ?? '',
                startedAtMs: data.started_at_ms ?? Date.now(),
                points: [],
                latest: null,
                flagged: false,
                ended: false,
                endedAtMs: null,
                endReason: '',
            };
            this.calls.set(data.call_id, call);
        }
        return call;
    }

    #emit(type, call) {
        this.dispatchEvent(new CustomEvent('change', { detail: { type, call } }));
    }

    #onSnapshot(snapshot) {
        if (Number.isFinite(snapshot.threshold)) {
            this.threshold = snapshot.threshold;
        }
        const live = new Set();
        for (const item of snapshot.calls ?? []) {
            live.add(item.call_id);
            const call = this.#entry(item);
            call.streamId = item.stream_id ?? call.streamId;
            call.encoding = item.encoding ?? call.encoding;
            call.startedAtMs = item.started_at_ms ?? call.startedAtMs;
            call.points = (item.points ?? []).map((p) => ({
                atMs: p.at_ms, callScore: p.call_score, windowScore: p.window_score,
                speechSeconds: p.speech_seconds,
            }));
            call.latest = item.latest ?? null;
            call.flagged = Boolean(item.flagged);
            call.ended = false;
        }
        // Calls that ended while we were disconnected.
        for (const call of this.calls.values()) {
            if (!live.has(call.callId) && !call.ended) {
                call.ended = true;
                call.endedAtMs = Date.now();
            }
        }
        this.#emit('snapshot', null);
    }

    #onStarted(data) {
        const call = this.#entry(data);
        call.streamId = data.stream_id;
        call.encoding = data.encoding;
        call.ended = false;
        call.endedAtMs = null;
        this.#emit('started', call);
    }

    #onScore(data) {
        const call = this.#entry(data);
        call.points.push({
            atMs: data.at_ms, callScore: data.call_score, windowScore: data.window_score,
            speechSeconds: data.speech_seconds,
        });
        if (call.points.length > 2000) {
            call.points.splice(0, call.points.length - 2000);
        }
        call.latest = data;
        const wasFlagged = call.flagged;
        call.flagged = call.flagged || Boolean(data.flagged);
        this.#emit(call.flagged && !wasFlagged ? 'flagged' : 'score', call);
    }

    #onEnded(data) {
        const call = this.#entry(data);
        if (call.streamId && data.stream_id && call.streamId !== data.stream_id) {
            return;  // a late end of an earlier stream of this call
        }
        call.ended = true;
        call.endedAtMs = Date.now();  // the browser's clock: pruning compares with it
        call.endReason = data.reason ?? '';
        call.flagged = call.flagged || Boolean(data.flagged);
        if (call.latest) {
            call.latest = { ...call.latest, call_score: data.call_score, verdict: data.verdict,
                speech_seconds: data.speech_seconds };
        }
        this.#emit('ended', call);
    }

    #prune() {
        const now = Date.now();
        let changed = false;
        for (const [id, call] of this.calls) {
            if (call.ended && now - (call.endedAtMs ?? now) > ENDED_KEEP_MS) {
                this.calls.delete(id);
                changed = true;
            }
        }
        if (changed) {
            this.#emit('pruned', null);
        }
    }
}
