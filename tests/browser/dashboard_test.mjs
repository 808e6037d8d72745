// End-to-end test of the dashboard in a real browser (issue 5): Debian's chromium, driven by
// playwright-core, against the built service in demo mode (the built-in Telnyx simulator places
// one genuine and one synthetic call) with an API_TOKEN, so the sign-in path is exercised.
//
//   node tests/browser/dashboard_test.mjs --binary build/bin/deepfake-voice-detector
//        [--source-dir .] [--artifacts build/test-artifacts] [--chromium /usr/bin/chromium]
//
// Exit status: 0 passed, 1 failed, 77 skipped (chromium or node_modules missing and
// DVD_REQUIRE_BROWSER unset). Screenshots go to --artifacts (or $DVD_ARTIFACT_DIR).

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const sourceDir = resolve(arg('source-dir', join(here, '..', '..')));
const binary = resolve(arg('binary', join(sourceDir, 'build', 'bin', 'deepfake-voice-detector')));
const artifacts = resolve(process.env.DVD_ARTIFACT_DIR
    || arg('artifacts', join(sourceDir, 'build', 'test-artifacts')), 'browser');
const chromiumPath = arg('chromium', process.env.DVD_CHROMIUM || '/usr/bin/chromium');
const DEMO_SPEED = 2;
const CALL_AUDIO_SECONDS = 16;  // each demo call lasts about 8 s at speed 2

let failures = 0;
let checks = 0;
const log = (...args) => console.log('[browser]', ...args);

function check(condition, what) {
    checks += 1;
    if (condition) {
        log(`ok   ${what}`);
    } else {
        failures += 1;
        log(`FAIL ${what}`);
    }
    return condition;
}

function skipOrFail(why) {
    if (process.env.DVD_REQUIRE_BROWSER) {
        console.error(`[browser] FAIL: ${why} (DVD_REQUIRE_BROWSER is set)`);
        process.exit(1);
    }
    console.log(`[browser] SKIP: ${why} (run tools/install-deps.sh build)`);
    process.exit(77);
}

// ---- prerequisites --------------------------------------------------------------------------
const playwrightEntry = join(here, 'node_modules', 'playwright-core', 'index.mjs');
if (!existsSync(chromiumPath)) {
    skipOrFail(`no chromium at ${chromiumPath}`);
}
if (!existsSync(playwrightEntry)) {
    skipOrFail('tests/browser/node_modules is missing (npm ci in tests/browser)');
}
if (!existsSync(join(sourceDir, 'web', 'node_modules', 'esbuild'))) {
    skipOrFail('web/node_modules is missing (npm ci in web)');
}
if (!existsSync(binary)) {
    console.error(`[browser] FAIL: no service binary at ${binary}`);
    process.exit(1);
}
const { chromium } = await import(playwrightEntry);

// ---- helpers --------------------------------------------------------------------------------

/** A copy of a PCM WAV file whose data chunk is repeated up to `seconds` of audio. */
async function longWav(source, target, seconds) {
    const bytes = await readFile(source);
    if (bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
        throw new Error(`${source}: not a RIFF/WAVE file`);
    }
    let fmt = null;
    let data = null;
    for (let at = 12; at + 8 <= bytes.length;) {
        const id = bytes.toString('ascii', at, at + 4);
        const size = bytes.readUInt32LE(at + 4);
        const body = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size));
        if (id === 'fmt ') fmt = body;
        if (id === 'data') data = body;
        at += 8 + size + (size % 2);
    }
    if (!fmt || !data) {
        throw new Error(`${source}: no fmt or data chunk`);
    }
    const byteRate = fmt.readUInt32LE(8);
    const blockAlign = fmt.readUInt16LE(12);
    const repeats = Math.max(1, Math.ceil((seconds * byteRate) / data.length));
    let pcm = Buffer.concat(Array(repeats).fill(data));
    pcm = pcm.subarray(0, pcm.length - (pcm.length % blockAlign));
    const header = Buffer.alloc(12 + 8 + fmt.length + 8);
    header.write('RIFF', 0, 'ascii');
    header.writeUInt32LE(header.length - 8 + pcm.length, 4);
    header.write('WAVE', 8, 'ascii');
    header.write('fmt ', 12, 'ascii');
    header.writeUInt32LE(fmt.length, 16);
    fmt.copy(header, 20);
    header.write('data', 20 + fmt.length, 'ascii');
    header.writeUInt32LE(pcm.length, 24 + fmt.length);
    await writeFile(target, Buffer.concat([header, pcm]));
}

async function waitFor(what, predicate, timeoutMs, intervalMs = 200) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await predicate();
        if (value) {
            return value;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

function startService(work, token, dist, wavs) {
    const env = {
        ...process.env,
        TELNYX_API_KEY: '',  // demo mode: the built-in simulator plays Telnyx
        TELNYX_PUBLIC_KEY: '',
        API_TOKEN: token,
        DATABASE_URL: `sqlite://${join(work, 'dvd.db')}`,
        LOG_LEVEL: 'info',
    };
    const args = ['serve', '--env-file', join(work, 'empty.env'), '--bind', '127.0.0.1',
        '--port', '0', '--workers', '2', '--ready-file', join(work, 'ready.json'),
        '--web-dir', dist, '--demo-speed', String(DEMO_SPEED),
        ...wavs.flatMap((w) => ['--demo-wav', w])];
    log(`starting ${binary} ${args.join(' ')}`);
    const child = spawn(binary, args, { cwd: sourceDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    return { child, output };
}

async function stopService(service) {
    if (service.child.exitCode !== null) {
        return service.child.exitCode;
    }
    service.child.kill('SIGTERM');
    const exited = await Promise.race([
        new Promise((r) => service.child.once('exit', (code) => r(code ?? 0))),
        new Promise((r) => setTimeout(() => r(null), 15000)),
    ]);
    if (exited === null) {
        service.child.kill('SIGKILL');
    }
    return exited;
}

async function api(port, token, path) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`,
        { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) {
        throw new Error(`${path}: ${response.status}`);
    }
    return response.json();
}

/** Non-blank pixels of the first canvas in `selector` (the chart really drew something). */
async function inkedPixels(page, selector) {
    return page.evaluate((sel) => {
        const canvas = document.querySelector(`${sel} canvas`);
        if (!canvas || canvas.width === 0 || canvas.height === 0) {
            return 0;
        }
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < data.length; i += 4) {
            if (data[i] !== 0) inked += 1;
        }
        return inked;
    }, selector);
}

// ---- the test -------------------------------------------------------------------------------
const work = await mkdtemp(join(tmpdir(), 'dvd-browser-'));
await mkdir(artifacts, { recursive: true });
const token = randomBytes(24).toString('hex');
let service = null;
let browser = null;
const consoleErrors = [];

async function screenshot(page, name, options = {}) {
    const path = join(artifacts, `${name}.png`);
    await page.screenshot({ path, fullPage: true, ...options });
    log(`screenshot ${path}`);
}

try {
    // The dashboard under test is built from the current sources, not a possibly stale dist.
    const dist = join(work, 'dist');
    const build = spawnSync(process.execPath, [join(sourceDir, 'web', 'build.mjs'), '--outdir', dist],
        { encoding: 'utf8' });
    if (build.status !== 0) {
        throw new Error(`web build failed: ${build.stderr || build.stdout}`);
    }
    log(build.stdout.trim());
    await writeFile(join(work, 'empty.env'), '');
    const genuine = join(work, 'genuine.wav');
    const synthetic = join(work, 'synthetic.wav');
    await longWav(join(sourceDir, 'samples', 'genuine-festvox-ru.wav'), genuine, CALL_AUDIO_SECONDS);
    await longWav(join(sourceDir, 'samples', 'synthetic-espeak-ng.wav'), synthetic, CALL_AUDIO_SECONDS);

    // The browser first: the demo calls start with the service and the page must be there.
    browser = await chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    // Every URL the page asks for, to check that the API token never travels in one.
    const requestedUrls = [];
    page.on('request', (request) => requestedUrls.push(request.url()));
    page.on('console', (message) => {
        if (message.type() === 'error') {
            consoleErrors.push(message.text());
        }
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
    // Every change of a card's flagged state, with the card's state at that moment.
    await page.addInitScript(() => {
        window.__flagEvents = [];
        new MutationObserver((mutations) => {
            for (const m of mutations) {
                const el = m.target;
                if (el.dataset && el.dataset.flagged === 'true' && m.oldValue !== 'true') {
                    window.__flagEvents.push({ callId: el.dataset.callId, state: el.dataset.state,
                        at: Date.now() });
                }
            }
        }).observe(document, { subtree: true, attributes: true, attributeOldValue: true,
            attributeFilter: ['data-flagged'] });
    });

    // Order matters: the first demo call says the genuine file (from +13125550100), the second
    // the synthetic one (from +13125550101).
    service = startService(work, token, dist, [genuine, synthetic]);
    const ready = await waitFor('the ready file', async () => {
        if (service.child.exitCode !== null) {
            throw new Error(`the service exited with ${service.child.exitCode}`);
        }
        try {
            return JSON.parse(await readFile(join(work, 'ready.json'), 'utf8'));
        } catch {
            return null;
        }
    }, 30000, 50);
    const base = `http://127.0.0.1:${ready.port}`;
    log(`service ready on ${base}`);

    // 1. Sign in: a wrong token is refused, the right one opens the live view.
    await page.goto(`${base}/`);
    await page.waitForSelector('#login-token', { timeout: 10000 });
    const refused = await fetch(`${base}/calls`);
    check(refused.status === 401, `the API answers ${refused.status} without a token`);
    check(await page.isVisible('form.login-form'), 'without a token the login form shows');
    check(!(await page.isVisible('#sign-out')), 'no sign-out button before signing in');
    await page.fill('#login-token', 'not-the-right-token-at-all');
    await page.press('#login-token', 'Enter');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent.includes('not accepted'));
    check(true, 'a wrong token is refused with a message');
    await screenshot(page, '01-login');
    await page.fill('#login-token', token);
    await page.click('form.login-form button[type=submit]');
    await page.waitForSelector('h1#page-title:text("Live calls")', { timeout: 10000 });
    check(await page.evaluate(() => sessionStorage.getItem('dvd.apiToken')) === token,
        'the token is kept in sessionStorage');
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10000 });
    check(true, 'the live event stream is connected');
    check(requestedUrls.some((u) => /\/events\?ticket=[A-Za-z0-9_-]{43}$/.test(u)),
        'the event stream is opened with a one-time ticket');
    check(!requestedUrls.some((u) => u.includes(token)), 'no URL carries the API token');

    // 2. Live: the synthetic call is flagged while it is still streaming.
    await page.waitForSelector('.live-card', { timeout: 20000 });
    const flaggedCard = await page.waitForSelector('.live-card[data-flagged="true"]', { timeout: 30000 });
    const flaggedState = await flaggedCard.getAttribute('data-state');
    const flaggedId = await flaggedCard.getAttribute('data-call-id');
    check(flaggedState === 'live', `a call is flagged live, while streaming (state ${flaggedState})`);
    await page.waitForFunction((id) => {
        const card = document.querySelector(`.live-card[data-call-id="${id}"]`);
        return card && card.querySelector('h3 a')?.textContent.includes('+1312');
    }, flaggedId, { timeout: 10000 });
    const livePoints = Number(await flaggedCard.$eval('figure.chart', (f) => f.dataset.points));
    check(livePoints > 0, `the live card's chart has points (${livePoints})`);
    check(await inkedPixels(page, `.live-card[data-call-id="${flaggedId}"] figure.chart`) > 100,
        'the live chart canvas is drawn');
    await screenshot(page, '02-live-flagged');

    // Both calls end; the genuine one never turns flagged.
    await waitFor('both demo calls to end', async () => {
        const list = await api(ready.port, token, '/calls');
        return list.calls.length >= 2 && list.calls.every((c) => c.status === 'ended') ? list : null;
    }, 60000, 500);
    const calls = (await api(ready.port, token, '/calls')).calls;
    const syntheticCall = calls.find((c) => c.from === '+13125550101');
    const genuineCall = calls.find((c) => c.from === '+13125550100');
    check(syntheticCall && syntheticCall.flagged && syntheticCall.verdict === 'synthetic',
        `the synthetic call ends flagged (score ${syntheticCall?.score})`);
    check(genuineCall && !genuineCall.flagged,
        `the genuine call stays clear (verdict ${genuineCall?.verdict}, score ${genuineCall?.score})`);
    check(flaggedId === syntheticCall?.id, 'the card flagged live is the synthetic call');
    await page.waitForTimeout(1500);  // the stream_ended events and a refresh of the lists
    const flagEvents = await page.evaluate(() => window.__flagEvents);
    check(flagEvents.length > 0 && flagEvents.every((e) => e.callId === syntheticCall?.id),
        `only the synthetic call was ever flagged in the page (${JSON.stringify(flagEvents)})`);
    check(flagEvents.some((e) => e.callId === syntheticCall?.id && e.state === 'live'),
        'the flag appeared while the call was live');
    const genuineCard = await page.$(`.live-card[data-call-id="${genuineCall?.id}"]`);
    check(genuineCard && (await genuineCard.getAttribute('data-flagged')) === 'false',
        'the genuine call card is not flagged');
    await screenshot(page, '03-live-ended');

    // 3. Call list: filters and the flagged row.
    await page.click('nav a[data-section="calls"]');
    await page.waitForSelector('table tbody tr[data-call-id]', { timeout: 10000 });
    check(await page.$$eval('table tbody tr[data-call-id]', (rows) => rows.length) === 2,
        'the call list shows both calls');
    check(await page.$$eval('tbody tr.row-flagged', (rows) => rows.map((r) => r.dataset.callId)
        .join()) === syntheticCall?.id, 'only the synthetic call row is flagged');
    await page.selectOption('#filter-flagged', 'true');
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr[data-call-id]').length === 1);
    check(true, 'the flagged filter leaves one call');
    await page.selectOption('#filter-flagged', '');
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr[data-call-id]').length === 2);
    await page.fill('#filter-q', '5550100');
    await page.press('#filter-q', 'Enter');
    await page.waitForFunction((id) => {
        const rows = [...document.querySelectorAll('table tbody tr[data-call-id]')];
        return rows.length === 1 && rows[0].dataset.callId === id;
    }, genuineCall?.id);
    check(true, 'searching a number finds that call');
    await page.fill('#filter-q', '');
    await page.press('#filter-q', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('table tbody tr[data-call-id]').length === 2);
    await screenshot(page, '04-calls');

    // 4. The call page of the synthetic call: chart, windows, alert row (or the flag), recording.
    await page.click(`tr[data-call-id="${syntheticCall.id}"] a.row-link`);
    await page.waitForSelector('.flagged-banner', { timeout: 10000 });
    await page.waitForFunction(() => Number(document.querySelector('figure.chart')?.dataset.points) > 0);
    const points = Number(await page.$eval('figure.chart', (f) => f.dataset.points));
    check(points === syntheticCall.timeline?.length || points > 0, `the call chart has ${points} points`);
    check(await page.$('figure.chart canvas') !== null, 'the call chart is a canvas');
    check(await inkedPixels(page, 'figure.chart') > 500, 'the call chart canvas is drawn');
    const windowRows = await page.$$eval('details.windows tbody tr', (rows) => rows.length);
    check(windowRows > 0, `the window scores table lists ${windowRows} windows`);
    const alertRows = await page.$$('.alert-row');
    if (alertRows.length > 0) {
        const status = await alertRows[0].getAttribute('data-status');
        check(Boolean(status), `an alert row is shown with its delivery status (${status})`);
    } else {
        check(await page.isVisible('.flagged-banner'),
            'no alert row (alerts not wired in this build): the flagged state is shown');
    }
    await page.waitForSelector('.recordings audio', { timeout: 15000 });
    check(true, 'a recording player is shown');
    // The service's own copy (Telnyx's links expire): fetched with the token, played from a blob.
    await page.waitForSelector('button:text("Play the service copy")', { timeout: 20000 });
    await page.click('button:text("Play the service copy")');
    await page.waitForSelector('.archive-player audio[src^="blob:"]', { timeout: 10000 });
    const sha = (await page.textContent('.recordings code.sha256')).trim();
    check(/^[0-9a-f]{64}$/.test(sha),
        "the service's copy of the recording plays from the API and shows its SHA-256");
    check(await page.isVisible('#indicators-title') && await page.isVisible('#analysis-title')
        && await page.isVisible('#telnyx-title'), 'indicators, analysis and Telnyx verdict sections exist');
    await screenshot(page, '05-call');
    await page.click('button:text("Re-analyse the audio")');
    await page.waitForFunction(() => document.body.textContent.includes('Re-analysis: score'),
        null, { timeout: 20000 });
    check(true, 're-analysing the call from its page shows the result');

    // 5. Health.
    await page.click('nav a[data-section="health"]');
    await page.waitForSelector('.stat-card', { timeout: 10000 });
    await page.waitForFunction(() => !document.body.textContent.includes('measuring…'), null, { timeout: 10000 });
    const healthText = await page.textContent('main');
    check(healthText.includes('Uptime') && healthText.includes('Active media streams')
        && healthText.includes('Media frames'), 'the health panel shows uptime, sessions, throughput');
    check(/Ready\s*yes/.test(healthText) && /Database\s*answers/.test(healthText)
        && /Store writer\s*keeping up/.test(healthText) && /Alert delivery\s*working/.test(healthText)
        && /Scoring\s*keeping up/.test(healthText),
    'the health panel shows readiness (the database answers, the store writer keeps up), alert delivery and the scoring pool');
    await screenshot(page, '06-health');

    // 6. Keyboard and phone.
    await page.goto(`${base}/#/`);
    await page.reload();  // a fresh load (a hash-only goto would be an in-page navigation)
    await page.waitForSelector('h1#page-title:text("Live calls")');
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement?.classList.contains('skip-link')),
        'the first Tab reaches the skip link');
    const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, button')]
        .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
        .length);
    check(unlabeled === 0, 'every control has a label');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/#/calls/${encodeURIComponent(syntheticCall.id)}`);
    await page.waitForSelector('.flagged-banner');
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no horizontal scrolling on a phone (${overflow}px)`);
    await screenshot(page, '07-phone-call');
    await page.goto(`${base}/#/`);
    await page.waitForSelector('h1#page-title:text("Live calls")');
    await screenshot(page, '08-phone-live');

    check(consoleErrors.length === 0, `no console errors (${JSON.stringify(consoleErrors)})`);
} catch (error) {
    failures += 1;
    log(`FAIL ${error.stack || error.message}`);
} finally {
    if (browser) {
        await browser.close().catch(() => {});
    }
    if (service) {
        const code = await stopService(service);
        if (code !== 0) {
            log(`the service exited with ${code}`);
        }
        await writeFile(join(artifacts, 'service.log'), Buffer.concat(service.output));
        if (failures > 0) {
            console.log(Buffer.concat(service.output).toString('utf8').split('\n').slice(-60).join('\n'));
        }
    }
    await rm(work, { recursive: true, force: true });
}

console.log(`[browser] ${checks - Math.min(checks, failures)} passed, ${failures} failed`);
console.log(`[browser] artifacts: ${artifacts}`);
process.exit(failures === 0 ? 0 : 1);
