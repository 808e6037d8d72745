// The dashboard's entry point: sign-in, the live feed, and a hash router over the views
// (#/ live, #/calls list, #/calls/<id> call page, #/health).

import 'uplot/dist/uPlot.min.css';
import './style.css';

import { clearToken, session, token } from './api.js';
import { LiveFeed } from './feed.js';
import { mountCall } from './views/call.js';
import { mountCalls } from './views/calls.js';
import { mountHealth } from './views/health.js';
import { mountLive } from './views/live.js';
import { mountLogin } from './views/login.js';

const main = document.getElementById('main');
const connection = document.getElementById('connection');
const signOutButton = document.getElementById('sign-out');
const nav = document.getElementById('nav');

const feed = new LiveFeed();
let view = null;
let signedIn = false;
let tokenRequired = false;

const STATUS_TEXT = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    closed: 'Disconnected',
};

feed.addEventListener('status', (event) => {
    connection.dataset.state = event.detail;
    connection.textContent = STATUS_TEXT[event.detail] ?? event.detail;
});

// The stream was refused (token no longer valid, or too many dashboards): find out which.
feed.addEventListener('closed', async () => {
    try {
        const state = await session();
        if (state.token_required && !state.authenticated) {
            signOut('Your token is no longer accepted: sign in again.');
            return;
        }
    } catch {
        // the service is down: retry below
    }
    setTimeout(() => { if (signedIn) feed.connect(); }, 5000);
});

function unmount() {
    if (view) {
        view.destroy();
        view = null;
    }
    main.replaceChildren();
}

function route(moveFocus) {
    if (!signedIn) {
        return;
    }
    unmount();
    const hash = window.location.hash.replace(/^#/, '') || '/';
    const [path, query = ''] = hash.split('?');
    const parts = path.split('/').filter(Boolean);
    const ctx = { feed, onAuthError: () => signOut('Your token is no longer accepted: sign in again.') };
    let section = 'live';
    if (parts[0] === 'calls' && parts.length >= 2) {
        section = 'calls';
        view = mountCall(main, ctx, decodeURIComponent(parts.slice(1).join('/')));
    } else if (parts[0] === 'calls') {
        section = 'calls';
        view = mountCalls(main, ctx, query);
    } else if (parts[0] === 'health') {
        section = 'health';
        view = mountHealth(main, ctx);
    } else {
        view = mountLive(main, ctx);
    }
    for (const link of nav.querySelectorAll('a[data-section]')) {
        if (link.dataset.section === section) {
            link.setAttribute('aria-current', 'page');
        } else {
            link.removeAttribute('aria-current');
        }
    }
    const title = document.getElementById('page-title');
    document.title = `${title?.textContent ?? 'Dashboard'} · Deepfake Voice Detector`;
    if (moveFocus && title) {
        title.focus({ preventScroll: false });
    }
}

function showLogin(message) {
    signedIn = false;
    feed.close();
    unmount();
    document.body.classList.add('signed-out');
    signOutButton.hidden = true;
    connection.textContent = '';
    view = mountLogin(main, {
        message,
        onSignedIn: (state) => start(state, true),
    });
    document.title = 'Sign in · Deepfake Voice Detector';
}

function signOut(message) {
    clearToken();
    showLogin(message);
}

function start(state, moveFocus) {
    signedIn = true;
    tokenRequired = Boolean(state.token_required);
    if (Number.isFinite(state.threshold)) {
        feed.threshold = state.threshold;
    }
    document.body.classList.remove('signed-out');
    signOutButton.hidden = !tokenRequired;
    feed.connect();
    route(moveFocus);
}

signOutButton.addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', () => route(true));

async function boot() {
    try {
        const state = await session();
        if (state.token_required && !state.authenticated) {
            showLogin(token() ? 'The saved token is no longer accepted.' : '');
            return;
        }
        start(state, false);  // a fresh page: Tab starts at the skip link
    } catch (error) {
        main.replaceChildren();
        const p = document.createElement('p');
        p.className = 'error';
        p.textContent = `The service does not answer (${error.message}). Reload the page to retry.`;
        main.append(p);
    }
}

boot();
