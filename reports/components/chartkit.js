// Shared pieces of the site's interval charts (BandLineChart, WhiskerBarChart, LinkScatter).
// One rounding rule: shares and intervals in whole per cent, differences in whole percentage
// points, slopes to 0.1 pp (the pages format the same way in SQL).
import { Query } from '@evidence-dev/sdk/usql';

// Okabe-Ito: distinguishable with colour-blindness
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#7F7F7F', '#000000'];

export const pct = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${Math.round(100 * v)}%`);
export const interval = (lo, hi) =>
	lo === null || lo === undefined || hi === null || hi === undefined
		? ''
		: `${Math.round(100 * lo)}–${Math.round(100 * hi)}%`;

/** Rows of a query result or an array, as a plain array, kept up to date: calls set(rows, loaded)
 * (loaded is false while a query is still running: the chart shows a skeleton meanwhile). */
export function follow(data, set) {
	if (Query.isQuery(data)) {
		data.fetch();
		return data.subscribe((v) => set(v?.dataLoaded ? Array.from(v) : [], Boolean(v?.dataLoaded || v?.error)));
	}
	set(Array.isArray(data) ? data : [], true);
	return () => {};
}

export const unique = (values) => [...new Set(values)];

/** A band (polygon between neighbouring points) for a custom series whose items are
 * {ci: category index or x value, lo, hi}, sorted; an isolated point gets a whisker instead. */
export function bandRenderer(items, color, { category = true } = {}) {
	return (params, api) => {
		const it = items[params.dataIndex];
		if (!it) return null;
		const next = category ? items.find((o) => o.ci === it.ci + 1) : items[params.dataIndex + 1];
		const prev = category ? items.find((o) => o.ci === it.ci - 1) : items[params.dataIndex - 1];
		const children = [];
		if (next) {
			children.push({
				type: 'polygon',
				shape: { points: [api.coord([it.ci, it.lo]), api.coord([next.ci, next.lo]), api.coord([next.ci, next.hi]), api.coord([it.ci, it.hi])] },
				style: { fill: color, opacity: 0.16 },
				silent: true
			});
		}
		if (!next && !prev) children.push(...whisker(api.coord([it.ci, it.lo]), api.coord([it.ci, it.hi]), color, 5, true));
		return { type: 'group', children };
	};
}

/** The line from a to b with caps of half-width w at both ends (vertical: caps horizontal). */
export function whisker(a, b, color, w = 4, vertical = true, opacity = 0.8) {
	const style = { stroke: color, lineWidth: 1.3, opacity };
	const cap = (p) =>
		vertical
			? { type: 'line', shape: { x1: p[0] - w, y1: p[1], x2: p[0] + w, y2: p[1] }, style, silent: true }
			: { type: 'line', shape: { x1: p[0], y1: p[1] - w, x2: p[0], y2: p[1] + w }, style, silent: true };
	return [{ type: 'line', shape: { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, style, silent: true }, cap(a), cap(b)];
}

export const shareAxis = (yMin = 0, yMax = 1) => ({
	type: 'value',
	min: yMin,
	max: yMax,
	interval: (yMax - yMin) / 4,
	axisLabel: { formatter: (v) => `${Math.round(100 * v)}%`, color: '#555' },
	splitLine: { lineStyle: { color: '#e5e7eb' } }
});
