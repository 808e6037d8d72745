// Score charts (uPlot, bundled from npm): the call-level score as a line, each window's score as
// dots, and the detection threshold as a dashed red line (drawn by a hook, so it shows before the
// first window too). x: seconds into the call's inbound audio.

import uPlot from 'uplot';

const COLORS = {
    call: '#1d4ed8',
    window: '#64748b',
    threshold: '#b42318',
    grid: 'rgba(100, 116, 139, 0.18)',
    axis: '#334155',
};

/**
 * A score chart inside `figure` (a <figure> element; its aria-label summarises the chart for
 * screen readers and data-points counts the points, for tests).
 * options: {height, compact, threshold}
 */
export function createScoreChart(figure, { height = 180, compact = false, threshold = 0.75 } = {}) {
    const holder = document.createElement('div');
    holder.className = 'chart-canvas';
    figure.prepend(holder);
    let points = [];
    let currentThreshold = threshold;

    const axisFont = compact ? '11px system-ui, sans-serif' : '12px system-ui, sans-serif';
    const opts = {
        width: Math.max(200, figure.clientWidth || 300),
        height,
        scales: { x: { time: false }, y: { auto: false, range: [0, 1] } },
        legend: { show: !compact },
        cursor: { show: !compact, drag: { x: false, y: false } },
        axes: [
            {
                stroke: COLORS.axis, font: axisFont, grid: { stroke: COLORS.grid },
                values: (u, values) => values.map((v) => `${v}s`),
                size: compact ? 28 : 40,
            },
            {
                stroke: COLORS.axis, font: axisFont, grid: { stroke: COLORS.grid },
                values: (u, values) => values.map((v) => v.toFixed(2)),
                size: compact ? 42 : 50,
                splits: () => [0, 0.25, 0.5, 0.75, 1],
            },
        ],
        series: [
            { label: 'Seconds', value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} s`) },
            {
                label: 'Call score', stroke: COLORS.call, width: 2,
                points: { show: true, size: compact ? 4 : 5, fill: COLORS.call },
                value: (u, v) => (v === null ? '—' : v.toFixed(2)),
            },
            {
                label: 'Window score', stroke: COLORS.window, width: 0, paths: () => null,
                points: { show: true, size: compact ? 4 : 6, fill: COLORS.window,
                    stroke: COLORS.window },
                value: (u, v) => (v === null ? '—' : v.toFixed(2)),
            },
        ],
        hooks: {
            // The threshold as a dashed line across the whole plot, even before any window.
            draw: [(u) => {
                const ratio = window.devicePixelRatio || 1;
                const y = Math.round(u.valToPos(currentThreshold, 'y', true));
                const { ctx } = u;
                ctx.save();
                ctx.strokeStyle = COLORS.threshold;
                ctx.lineWidth = 1.5 * ratio;
                ctx.setLineDash([6 * ratio, 4 * ratio]);
                ctx.beginPath();
                ctx.moveTo(u.bbox.left, y);
                ctx.lineTo(u.bbox.left + u.bbox.width, y);
                ctx.stroke();
                ctx.restore();
            }],
        },
    };

    const plot = new uPlot(opts, toData([]), holder);

    let frame = 0;
    const resize = () => {
        // In the next frame: resizing inside the observer's callback would re-trigger it.
        cancelAnimationFrame(frame);
        frame = requestAnimationFrame(() => {
            const width = Math.max(200, Math.floor(figure.clientWidth));
            if (width && Math.abs(width - plot.width) > 1) {
                plot.setSize({ width, height });
            }
        });
    };
    const observer = new ResizeObserver(resize);
    observer.observe(figure);

    function toData(list) {
        return [list.map((p) => p.atMs / 1000), list.map((p) => p.callScore),
            list.map((p) => p.windowScore)];
    }

    function describe() {
        const last = points[points.length - 1];
        figure.dataset.points = String(points.length);
        figure.setAttribute('aria-label', last
            ? `Score over the call: ${points.length} windows, latest call score ` +
              `${last.callScore.toFixed(2)}, threshold ${currentThreshold.toFixed(2)}`
            : `Score over the call: no window scored yet, threshold ${currentThreshold.toFixed(2)}`);
    }

    describe();
    return {
        /** Replaces the points: [{atMs, callScore, windowScore}] */
        set(list, thr = currentThreshold) {
            points = list.slice();
            currentThreshold = thr;
            plot.setData(toData(points));
            describe();
        },
        destroy() {
            cancelAnimationFrame(frame);
            observer.disconnect();
            plot.destroy();
        },
    };
}
