// Unit tests of the dashboard's formatting helpers (node --test; no browser needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
    formatDuration, formatNumber, formatScore, formatSeconds, formatTime, humanize, shortId,
    verdictLabel,
} from '../src/format.js';

test('formatTime shows local date and time, a dash for nothing, the input when unparseable', () => {
    const at = new Date(2026, 10, 26, 14, 5, 9);  // local time, like the browser
    assert.equal(formatTime(at.getTime()), '2026-11-26 14:05:09');
    assert.equal(formatTime(at.toISOString()), '2026-11-26 14:05:09');
    for (const nothing of [null, undefined, '']) {
        assert.equal(formatTime(nothing), '—');
    }
    assert.equal(formatTime('not a time'), 'not a time');
});

test('formatDuration picks seconds, minutes or hours', () => {
    assert.equal(formatDuration(4.24), '4.2 s');
    assert.equal(formatDuration(59.94), '59.9 s');
    assert.equal(formatDuration(185), '3 min 05 s');
    assert.equal(formatDuration(3725), '1 h 02 min');
    assert.equal(formatDuration(null), '—');
    assert.equal(formatDuration('x'), '—');
});

test('scores, seconds and numbers', () => {
    assert.equal(formatScore(0.9349), '0.93');
    assert.equal(formatScore(undefined), '—');
    assert.equal(formatSeconds(18), '18.0 s');
    assert.equal(formatNumber(1234567), '1,234,567');
    assert.equal(formatNumber(3.14159, 3), '3.142');
    assert.equal(formatNumber(''), '—');
    assert.equal(formatNumber('n/a'), 'n/a');
});

test('names and verdicts in words', () => {
    assert.equal(humanize('speech_rate_syllables_per_s'), 'Speech rate syllables per s');
    assert.equal(verdictLabel('insufficient_speech'), 'Not enough speech');
    assert.equal(verdictLabel(null), 'No score yet');
    assert.equal(verdictLabel('new_state'), 'New state');
    assert.equal(shortId('c3d8e33c-0000-1111'), 'c3d8e33c…');
    assert.equal(shortId('short'), 'short');
    assert.equal(shortId(null), '');
});
