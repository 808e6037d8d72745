// Unit tests of the dashboard's API client (node --test): the token goes in the Authorization
// header and never in a URL, errors become AuthError/ApiError, Prometheus text is parsed.
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import {
    ApiError, AuthError, eventsUrl, getBlob, getJson, getReadiness, metricSum, parsePrometheus,
    setToken,
} from '../src/api.js';

// The browser globals api.js uses: sessionStorage and fetch.
const storage = new Map();
globalThis.window = {
    sessionStorage: {
        getItem: (key) => (storage.has(key) ? storage.get(key) : null),
        setItem: (key, value) => storage.set(key, String(value)),
        removeItem: (key) => storage.delete(key),
    },
};
let requests = [];
let replies = [];
globalThis.fetch = async (url, options = {}) => {
    requests.push({ url, options });
    const reply = replies.shift() ?? new Response('{}', { status: 200 });
    return reply;
};

beforeEach(() => {
    storage.clear();
    requests = [];
    replies = [];
});

test('requests carry the token as a Bearer header only', async () => {
    setToken('s3cr3t-token-0123456789');
    replies.push(new Response('{"calls":[]}', { status: 200 }));
    assert.deepEqual(await getJson('/calls?limit=5'), { calls: [] });
    assert.equal(requests[0].url, '/calls?limit=5');
    assert.equal(requests[0].options.headers.Authorization, 'Bearer s3cr3t-token-0123456789');
    assert.equal(requests[0].options.cache, 'no-store');
});

test('no token, no Authorization header', async () => {
    await getJson('/health');
    assert.equal(requests[0].options.headers.Authorization, undefined);
});

test('401 is an AuthError, other failures an ApiError with the service code', async () => {
    replies.push(new Response('{"error":{"code":"unauthorized","message":"no"}}', { status: 401 }));
    await assert.rejects(getJson('/calls'), AuthError);
    replies.push(new Response('{"error":{"code":"not_archived","message":"pending"}}',
        { status: 404, statusText: 'Not Found' }));
    await assert.rejects(getBlob('/calls/a/recordings/1/audio'), (error) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.status, 404);
        assert.equal(error.code, 'not_archived');
        assert.equal(error.message, 'pending');
        return true;
    });
    replies.push(new Response('<html>proxy error</html>', { status: 502, statusText: 'Bad Gateway' }));
    await assert.rejects(getJson('/calls'), (error) => error.code === 'http_error'
        && error.message === '502 Bad Gateway');
});

test('GET /ready: its 503 is an answer (not ready), other failures are errors', async () => {
    replies.push(new Response('{"status":"ready","checks":{}}', { status: 200 }));
    assert.equal((await getReadiness()).status, 'ready');
    assert.equal(requests[0].url, '/ready');
    replies.push(new Response('{"status":"not_ready","checks":{"database":{"ok":false}}}',
        { status: 503 }));
    const down = await getReadiness();
    assert.equal(down.status, 'not_ready');
    assert.equal(down.checks.database.ok, false);
    replies.push(new Response('<html>proxy error</html>', { status: 502, statusText: 'Bad Gateway' }));
    await assert.rejects(getReadiness(), (error) => error instanceof ApiError && error.status === 502);
});

test('getBlob returns the body as a Blob, fetched with the token', async () => {
    setToken('s3cr3t-token-0123456789');
    replies.push(new Response(new Uint8Array([0x52, 0x49, 0x46, 0x46]), { status: 200 }));
    const blob = await getBlob('/calls/a/recordings/1/audio');
    assert.equal(await blob.text(), 'RIFF');
    assert.equal(requests[0].options.headers.Authorization, 'Bearer s3cr3t-token-0123456789');
});

test('the event stream URL holds a one-time ticket, never the token', async () => {
    assert.equal(await eventsUrl(), '/events');  // open API: no ticket needed
    setToken('s3cr3t-token-0123456789');
    replies.push(new Response('{"ticket":"t/1+x"}', { status: 200 }));
    const url = await eventsUrl();
    assert.equal(url, '/events?ticket=t%2F1%2Bx');
    assert.equal(requests.at(-1).url, '/events/ticket');
    assert.equal(requests.at(-1).options.method, 'POST');
    assert.ok(!url.includes('s3cr3t'));
});

test('parsePrometheus reads samples with labels and skips comments', () => {
    const metrics = parsePrometheus([
        '# HELP dvd_commands_total Call Control commands.',
        '# TYPE dvd_commands_total counter',
        'dvd_commands_total{command="answer",status="ok"} 3',
        'dvd_commands_total{command="speak",status="failed"} 2',
        'dvd_commands_total{command="answer",status="failed"} 1',
        'dvd_uptime_seconds 12.5',
        'dvd_escaped{text="a \\"quoted\\" b"} 1',
        '',
        'garbage line without a value',
    ].join('\n'));
    assert.equal(metricSum(metrics, 'dvd_commands_total'), 6);
    assert.equal(metricSum(metrics, 'dvd_commands_total', { status: 'failed' }), 3);
    assert.equal(metricSum(metrics, 'dvd_commands_total', { status: 'failed', command: 'speak' }), 2);
    assert.equal(metricSum(metrics, 'dvd_uptime_seconds'), 12.5);
    assert.equal(metricSum(metrics, 'dvd_missing_total'), 0);
    assert.equal(metrics.dvd_escaped[0].labels.text, 'a \\"quoted\\" b');
});
