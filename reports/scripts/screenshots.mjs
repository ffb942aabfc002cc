// Opens pages of the built site in headless Chromium (the OS package; no browser is downloaded),
// saves a full-page PNG of each and prints, as one JSON line, what a reader would check on it.
//
//   node scripts/screenshots.mjs job.json
//
// job.json: {"chromium": "/usr/bin/chromium", "baseUrl": "http://127.0.0.1:PORT", "outDir": "...",
//            "pages": [{"name": "index", "path": "/"}, ...], "widths": [1400, 390], "settleMs": 1500}
// Each page is opened at every width: the first width's result is named as the page, the others
// "<name>@<width>" (PNG "<name>-<width>.png"). "width": 1280 alone still works. A page may carry
// "actions": [{"select": "<css selector of a <select>>", "value": "..."}], done after it loaded (a
// reader's choice), before anything is read.
// Every request the pages make is recorded; one that leaves 127.0.0.1/localhost is blocked and
// reported in "offsite".
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
fs.mkdirSync(job.outDir, { recursive: true });
const userDataDir = fs.mkdtempSync(path.join(job.outDir, '.chromium-profile-'));

// The flags this machine kind needs (no sandbox as root; no background traffic to a closed network).
const context = await chromium.launchPersistentContext(userDataDir, {
	executablePath: job.chromium,
	headless: true,
	args: [
		'--no-sandbox',
		'--disable-gpu',
		'--disable-quic',
		'--no-first-run',
		'--disable-background-networking',
		'--disable-component-update',
		'--disable-sync'
	],
	viewport: { width: (job.widths ?? [job.width ?? 1280])[0], height: 900 },
	locale: 'lv-LV',
	timezoneId: 'Europe/Riga'
});

const isLocal = (url) => {
	if (/^(data|blob|about|chrome|chrome-extension):/.test(url)) return true;
	try {
		return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
	} catch {
		return false;
	}
};

const offsite = [];
const requests = [];
await context.route('**/*', (route) => {
	const url = route.request().url();
	requests.push(url);
	if (isLocal(url)) return route.continue();
	offsite.push(url);
	return route.abort('blockedbyclient');
});

const widths = job.widths ?? [job.width ?? 1280];
const visits = widths.flatMap((width, i) =>
	job.pages.map((p) => ({ ...p, width, key: i === 0 ? p.name : `${p.name}@${width}`, file: i === 0 ? p.name : `${p.name}-${width}` }))
);
const results = [];
for (const { key: name, file, width, path: pagePath, actions = [] } of visits) {
	const page = await context.newPage();
	await page.setViewportSize({ width, height: 900 });
	const consoleErrors = [];
	page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
	page.on('pageerror', (e) => consoleErrors.push(String(e)));
	const url = job.baseUrl + pagePath;
	let status = null;
	try {
		const response = await page.goto(url, { waitUntil: 'networkidle', timeout: 60000 });
		status = response ? response.status() : null;
		// Evidence shows skeletons while queries load in the browser; wait for them to go,
		// then for chart animations (500 ms) to end.
		await page
			.waitForFunction(() => !document.querySelector('.animate-pulse, [data-testid="loading"]'), null, {
				timeout: 30000
			})
			.catch(() => {});
		await page.waitForTimeout(job.settleMs ?? 1500);
		for (const action of actions) {
			await page.selectOption(action.select, String(action.value));
			await page.waitForTimeout(job.settleMs ?? 1500);
		}
	} catch (e) {
		consoleErrors.push(`navigation: ${e}`);
	}
	const info = await page.evaluate(() => {
		const text = (el) => (el.innerText || '').trim();
		const charts = Object.values(window[Symbol.for('__evidence-chart-window-debug__')] ?? {})
			.filter((c) => c && !c.isDisposed?.())
			.map((c) => {
				const o = c.getOption() ?? {};
				const series = (o.series ?? []).map((s) => ({
					id: s.id ?? null,
					type: s.type,
					name: s.name ?? null,
					points: (s.data ?? []).filter((d) => d !== null && d !== undefined).length,
					values: (s.data ?? []).map((d) => (Array.isArray(d) ? d : d && typeof d === 'object' && 'value' in d ? d.value : d)),
					colors: (s.data ?? []).map((d) => (d && typeof d === 'object' && !Array.isArray(d) ? (d.itemStyle?.color ?? null) : null)),
					names: (s.data ?? []).map((d) => (d && typeof d === 'object' && !Array.isArray(d) ? (d.name ?? null) : null))
				}));
				const dom = c.getDom();
				const r = dom.getBoundingClientRect();
				return {
					series,
					xAxis: (o.xAxis ?? []).map((a) => ({ type: a.type, data: a.data ?? null })),
					legend: (o.legend ?? []).flatMap((l) => (l.data ?? []).map((d) => (typeof d === 'object' ? d.name : d))),
					title: (o.title ?? []).map((t) => t.text).filter(Boolean),
					width: r.width,
					height: r.height
				};
			});
		// Evidence's error boxes (ErrorChart, BigValueError, ValueError) share this class
		const errorBoxes = [...document.querySelectorAll('.bg-negative\\/10')].map(text);
		const tables = [...document.querySelectorAll('table')].map((t) => {
			const box = t.getBoundingClientRect();
			const scroller = t.closest('.table-container, .scrollbox, [class*="overflow"]') ?? t.parentElement;
			return {
				// every data cell names its column (what a phone shows beside the value)
				labelled: [...t.querySelectorAll('td')].every((td) => (td.getAttribute('data-label') ?? '') !== ''),
				headers: [...t.querySelectorAll('th')].map((th) => (th.textContent || '').trim()),
				rows: [...t.querySelectorAll('tr')].filter((tr) => tr.querySelector('td')).map((tr) => [...tr.querySelectorAll('td')].map(text)),
				width: box.width,
				overflowing: scroller ? scroller.scrollWidth > scroller.clientWidth + 1 : false,
				scrollable: scroller ? ['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX) : false,
				right: box.right
			};
		});
		// Arrows and colour that say "changed" or "differs": Evidence's deltas (text-positive /
		// text-negative) and the site's significant marks (sig-up / sig-down), and any ▲▼ in the text;
		// each with the table row or block it sits in.
		const context = (el) => {
			const holder = el.closest('tr, [data-sig-context], p, li, .inline-block') ?? el.parentElement;
			return { context: holder ? text(holder).slice(0, 300) : '', sigContext: el.closest('[data-sig-context]')?.getAttribute('data-sig-context') ?? null };
		};
		const marked = new Set(document.querySelectorAll('.text-positive, .text-negative, .sig-up, .sig-down'));
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		while (walker.nextNode()) {
			if (/[▲▼]/.test(walker.currentNode.nodeValue) && walker.currentNode.parentElement) marked.add(walker.currentNode.parentElement);
		}
		const deltas = [...marked]
			.filter((el) => el.getClientRects().length > 0)
			.map((el) => ({ text: text(el), className: String(el.className), ...context(el) }));
		// what a reader sees of each chart title (HTML, above the chart): cut if it is wider than its
		// box or runs out of the window
		const chartTitles = [...document.querySelectorAll('.chart-title, .chart-subtitle')].map((el) => {
			const r = el.getBoundingClientRect();
			return { text: text(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, left: r.left, right: r.right };
		});
		const nav = [...document.querySelectorAll('aside a[href]')].map((a) => ({ href: a.getAttribute('href'), text: text(a) }));
		// a chooser's text as a reader sees it: a visible native select shows its chosen option on one
		// line (measured against the select's inner width); a transparent one lies over a wrapping
		// .shown text, measured as any box
		const measure = document.createElement('canvas').getContext('2d');
		const selects = [...document.querySelectorAll('select')].map((el) => {
			const style = getComputedStyle(el);
			const shown = el.parentElement?.querySelector('.shown');
			const r = (shown ?? el).getBoundingClientRect();
			let fits;
			if (shown && style.opacity === '0') {
				fits = shown.scrollWidth <= shown.clientWidth + 1;
			} else {
				measure.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
				const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
				fits = measure.measureText(el.selectedOptions[0]?.text ?? '').width <= inner;
			}
			return { testid: el.getAttribute('data-testid'), value: el.value, shownText: shown ? text(shown) : (el.selectedOptions[0]?.text ?? ''),
			         fits, left: r.left, right: r.right };
		});
		return {
			title: document.title,
			deltas,
			chartTitles,
			nav,
			selects,
			headings: [...document.querySelectorAll('h1, h2, h3')].map(text),
			text: document.body.innerText,
			errorBoxes,
			charts,
			tables,
			pageWidth: document.documentElement.scrollWidth,
			cssRules: [...document.styleSheets].reduce((n, sh) => {
				try {
					return n + sh.cssRules.length;
				} catch {
					return n;
				}
			}, 0),
			jquery: typeof window.jQuery === 'function',
			viewportWidth: window.innerWidth
		};
	});
	const png = path.join(job.outDir, `${file}.png`);
	await page.screenshot({ path: png, fullPage: true });
	results.push({ name, width, url, status, png, consoleErrors, ...info });
	await page.close();
}
await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
console.log(JSON.stringify({ pages: results, offsite, requests: requests.length }));
