// Call list: filters (status, flagged, sort), search on number or id, paging. The filters live in
// the URL (#/calls?status=ended&flagged=true&page=2), so a view can be bookmarked and shared.

import { AuthError, getJson } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { formatNumber } from '../format.js';
import {
    CALL_ROW_HEAD, callRow, refreshKeepingFocus, scrollTable, setText,
} from './common.js';

const REFRESH_MS = 5000;
const SEARCH_SCOPE = 1000;  // the API's largest page: search covers the newest 1000 matches
const STATUSES = ['initiated', 'answered', 'streaming', 'ended', 'failed'];
const PAGE_SIZES = [25, 50, 100];

function readParams(query) {
    const p = new URLSearchParams(query);
    const limit = Number(p.get('limit'));
    const page = Number(p.get('page'));
    return {
        status: STATUSES.includes(p.get('status')) ? p.get('status') : '',
        flagged: ['true', 'false'].includes(p.get('flagged')) ? p.get('flagged') : '',
        sort: p.get('sort') === 'score' ? 'score' : 'time',
        q: (p.get('q') ?? '').slice(0, 100),
        limit: PAGE_SIZES.includes(limit) ? limit : 25,
        page: Number.isInteger(page) && page > 0 ? page : 1,
    };
}

function writeParams(params) {
    const p = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
        const isDefault = (key === 'sort' && value === 'time') || (key === 'limit' && value === 25)
            || (key === 'page' && value === 1);
        if (value !== '' && !isDefault) {
            p.set(key, String(value));
        }
    }
    const text = p.toString();
    return text ? `#/calls?${text}` : '#/calls';
}

function matches(call, q) {
    const needle = q.toLowerCase().replace(/[\s()-]/g, '');
    return [call.from, call.to, call.id, call.call_control_id]
        .some((v) => typeof v === 'string' && v.toLowerCase().replace(/[\s()-]/g, '').includes(needle));
}

export function mountCalls(main, ctx, query) {
    const params = readParams(query);
    let destroyed = false;
    let loading = false;

    const select = (name, label, options, value) => {
        const id = `filter-${name}`;
        return h('div', { class: 'field' },
            h('label', { for: id }, label),
            h('select', { id, name },
                options.map(([v, text]) => h('option', { value: v, selected: v === String(value) }, text))));
    };
    const search = h('input', {
        id: 'filter-q', name: 'q', type: 'search', value: params.q, autocomplete: 'off',
        placeholder: '+1312…, call id', 'aria-describedby': 'search-help',
    });
    const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter calls' },
        select('status', 'Status', [['', 'All'], ...STATUSES.map((s) => [s, s])], params.status),
        select('flagged', 'Flagged', [['', 'All'], ['true', 'Flagged only'], ['false', 'Not flagged']],
            params.flagged),
        select('sort', 'Sort by', [['time', 'Newest first'], ['score', 'Highest score']], params.sort),
        h('div', { class: 'field grow' },
            h('label', { for: 'filter-q' }, 'Search'), search,
            h('span', { id: 'search-help', class: 'hint' }, 'Phone number or call id')),
        select('limit', 'Per page', PAGE_SIZES.map((n) => [String(n), String(n)]), params.limit),
        h('button', { type: 'submit', class: 'button' }, 'Apply'));
    const summary = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' }, 'Loading…');
    const body = h('div', {});
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of calls' });
    main.append(
        h('div', { class: 'page-head' }, h('h1', { id: 'page-title', tabindex: '-1' }, 'Calls')),
        form, summary, body, pager);

    const apply = (changes) => {
        const next = { ...params, ...changes };
        window.location.hash = writeParams(next);
    };
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        const data = new FormData(form);
        apply({
            status: data.get('status'), flagged: data.get('flagged'), sort: data.get('sort'),
            q: String(data.get('q') ?? '').trim(), limit: Number(data.get('limit')), page: 1,
        });
    });
    // Selects apply at once; the search applies on Enter (submit) or the Apply button.
    for (const el of form.querySelectorAll('select')) {
        el.addEventListener('change', () => form.requestSubmit());
    }

    async function load() {
        if (loading) {
            return;
        }
        loading = true;
        try {
            const api = new URLSearchParams();
            if (params.status) api.set('status', params.status);
            if (params.flagged) api.set('flagged', params.flagged);
            api.set('sort', params.sort);
            let calls;
            let total;
            if (params.q) {
                api.set('limit', String(SEARCH_SCOPE));
                const page = await getJson(`/calls?${api}`);
                const found = page.calls.filter((c) => matches(c, params.q));
                total = found.length;
                calls = found.slice((params.page - 1) * params.limit, params.page * params.limit);
            } else {
                api.set('limit', String(params.limit));
                api.set('offset', String((params.page - 1) * params.limit));
                const page = await getJson(`/calls?${api}`);
                calls = page.calls;
                total = page.total;
            }
            if (!destroyed) {
                render(calls, total);
            }
        } catch (error) {
            if (error instanceof AuthError) {
                ctx.onAuthError();
            } else if (!destroyed) {
                setText(summary, `Cannot load calls: ${error.message}`);
                summary.className = 'error';
            }
        } finally {
            loading = false;
        }
    }

    function render(calls, total) {
        const pages = Math.max(1, Math.ceil(total / params.limit));
        const first = total === 0 ? 0 : (params.page - 1) * params.limit + 1;
        const last = Math.min(total, params.page * params.limit);
        summary.className = 'muted';
        setText(summary, total === 0
            ? (params.q ? `No call matches “${params.q}”.` : 'No calls match these filters.')
            : `Calls ${formatNumber(first)}–${formatNumber(last)} of ${formatNumber(total)}` +
              (params.q ? ` matching “${params.q}” (search covers the newest ${SEARCH_SCOPE})` : ''));
        refreshKeepingFocus(body, JSON.stringify([total, calls]), () => (calls.length === 0 ? null
            : scrollTable('Calls', CALL_ROW_HEAD, calls.map((c) => callRow(c)))));
        const link = (page, text, rel) => (page >= 1 && page <= pages && page !== params.page
            ? h('a', { href: writeParams({ ...params, page }), class: 'button', rel }, text)
            : h('span', { class: 'button disabled', 'aria-disabled': 'true' }, text));
        const pagerKey = `${params.page}/${pages}`;
        if (pager.dataset.key !== pagerKey) {  // unchanged: keep the focus on its links
            pager.dataset.key = pagerKey;
            replaceChildren(pager,
                link(params.page - 1, '← Previous', 'prev'),
                h('span', { class: 'muted' }, `Page ${params.page} of ${pages}`),
                link(params.page + 1, 'Next →', 'next'));
        }
    }

    const onChange = (event) => {
        if (['started', 'ended', 'flagged'].includes(event.detail.type)) {
            load();
        }
    };
    ctx.feed.addEventListener('change', onChange);
    load();
    const timer = setInterval(load, REFRESH_MS);
    return {
        destroy() {
            destroyed = true;
            clearInterval(timer);
            ctx.feed.removeEventListener('change', onChange);
        },
    };
}
