// A tiny DOM builder. Data from the API is only ever inserted as text (never as HTML), so a
// caller id or an analysis text cannot inject markup.

/**
 * h('a', {href: '#/calls', class: 'x', onclick: fn}, 'text', childNode, [more])
 * Attributes whose value is null/undefined/false are left out; `true` sets an empty attribute.
 */
export function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props ?? {})) {
        if (value === undefined || value === null || value === false) {
            continue;
        }
        if (key === 'class') {
            el.className = value;
        } else if (key === 'dataset') {
            Object.assign(el.dataset, value);
        } else if (key === 'text') {
            el.textContent = value;
        } else if (key.startsWith('on') && typeof value === 'function') {
            el.addEventListener(key.slice(2), value);
        } else if (value === true) {
            el.setAttribute(key, '');
        } else {
            el.setAttribute(key, String(value));
        }
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const child of children.flat(Infinity)) {
        if (child === null || child === undefined || child === false) {
            continue;
        }
        el.append(child instanceof Node ? child : String(child));
    }
}

/** Replaces the children of `el`. */
export function replaceChildren(el, ...children) {
    el.replaceChildren();
    append(el, children);
}

/** Only http(s) URLs may become links or media sources. */
export function safeUrl(url) {
    if (typeof url !== 'string') {
        return null;
    }
    try {
        const parsed = new URL(url, window.location.href);
        return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
    } catch {
        return null;
    }
}

/** Screen-reader announcement through the page's live region. */
export function announce(text) {
    const region = document.getElementById('announcer');
    if (region) {
        region.textContent = '';
        // A new text node in a fresh task, so the same message twice is read twice.
        setTimeout(() => { region.textContent = text; }, 50);
    }
}

/** A section with a heading; `id` names the heading for aria-labelledby. */
export function section(id, title, ...children) {
    return h('section', { class: 'panel', 'aria-labelledby': id },
        h('h2', { id }, title), ...children);
}

/** "not available" placeholder with an explanation. */
export function notAvailable(why) {
    return h('p', { class: 'muted not-available' }, 'Not available', why ? ` — ${why}` : '');
}
