// Sign-in: the service's API_TOKEN, kept in sessionStorage (this tab, until it closes).

import { clearToken, session, setToken } from '../api.js';
import { h } from '../dom.js';

export function mountLogin(main, { message, onSignedIn }) {
    const error = h('p', { id: 'login-error', class: 'error', role: 'alert' }, message ?? '');
    const input = h('input', {
        id: 'login-token', name: 'token', type: 'password', required: true, autocomplete: 'off',
        spellcheck: 'false', 'aria-describedby': 'login-help login-error',
    });
    const button = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
    const form = h('form', { class: 'login-form', 'aria-labelledby': 'page-title' },
        h('h1', { id: 'page-title', tabindex: '-1' }, 'Sign in'),
        h('p', { id: 'login-help', class: 'muted' },
            'This service needs its API token (API_TOKEN in its configuration). It is kept in ',
            'this browser tab only, until the tab is closed.'),
        h('div', { class: 'field' }, h('label', { for: 'login-token' }, 'API token'), input),
        error,
        button);
    main.append(h('div', { class: 'login' }, form));

    form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (!value) {
            error.textContent = 'Enter the API token.';
            input.focus();
            return;
        }
        button.disabled = true;
        error.textContent = '';
        try {
            setToken(value);
            const state = await session();
            if (state.token_required && !state.authenticated) {
                clearToken();
                error.textContent = 'That token was not accepted.';
                input.select();
                input.focus();
                return;
            }
            onSignedIn(state);
        } catch (e) {
            clearToken();
            error.textContent = `The service does not answer: ${e.message}`;
        } finally {
            button.disabled = false;
        }
    });
    input.focus();
    return { destroy() {} };
}
