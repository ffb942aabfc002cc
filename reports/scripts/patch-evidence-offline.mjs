// Lets Evidence build and show the site with no internet. Run by `npm install` (postinstall);
// idempotent. Usage: node scripts/patch-evidence-offline.mjs [--check] [reports dir]
//
// Why: @evidence-dev/universal-sql runs DuckDB-WASM in Node (`evidence sources`, `evidence build`)
// and in the reader's browser, and reads every source table with read_parquet(). That WASM build
// has no parquet extension linked in, so DuckDB downloads it from DuckDB's extension site on the
// first read_parquet; offline, Node's blocking loader then waits for ever (duckdb/duckdb-wasm#2252)
// and the browser sends a request off the site.
//
// What: parquet is read and written with parquet-wasm (a dependency of universal-sql, pure WASM)
// and each source table is handed to DuckDB-WASM as Arrow (insertArrowFromIPCStream, built into
// every DuckDB-WASM bundle), in Node and in the browser. Extension autoloading is switched off, so
// anything else that would need a download fails at once instead of hanging.
//
// The edits are tied to exact versions: if Evidence is upgraded under this script it stops the
// install, naming the versions it expects; re-check the edits against the new code, then update
// PINNED below.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PINNED = {
	'@evidence-dev/evidence': '40.1.8',
	'@evidence-dev/universal-sql': '3.0.1',
	'@duckdb/duckdb-wasm': '1.32.0',
	'parquet-wasm': '0.5.0'
};
const MARK = '/* trust-reports offline parquet patch v2 */';

const args = process.argv.slice(2);
const checkOnly = args.includes('--check');
const root = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const usqlDir = path.join(root, 'node_modules', '@evidence-dev', 'universal-sql');
const src = path.join(usqlDir, 'src');

function fail(message) {
	console.error(`\nERROR (reports/scripts/patch-evidence-offline.mjs): ${message}\n`);
	process.exit(1);
}

// The version npm installed for `name` where universal-sql resolves it (nested first, then hoisted).
function installedVersion(name) {
	for (const dir of [path.join(usqlDir, 'node_modules', name), path.join(root, 'node_modules', name)]) {
		const pkg = path.join(dir, 'package.json');
		if (fs.existsSync(pkg)) return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
	}
	return 'not installed';
}

const wrong = Object.entries(PINNED)
	.map(([name, want]) => [name, want, installedVersion(name)])
	.filter(([, want, have]) => want !== have);
if (wrong.length)
	fail(
		'the offline build patch for Evidence is written for ' +
			Object.entries(PINNED).map(([n, v]) => `${n} ${v}`).join(', ') +
			', but this install has ' +
			wrong.map(([n, , have]) => `${n} ${have}`).join(', ') +
			'.\nWithout the patch the site cannot be built offline (DuckDB-WASM would download its parquet ' +
			'extension). Re-check the edits in this script against the new versions, then update PINNED.'
	);

// One helper, shared by Node and the browser: a parquet file's bytes become the table source.table.
const HELPER = `${MARK}
// Written by reports/scripts/patch-evidence-offline.mjs: a source table is read with parquet-wasm and
// given to DuckDB-WASM as Arrow, so no DuckDB extension (parquet) has to be downloaded.
export async function parquetToTable(connection, readParquet, bytes, source, table) {
	const ipc = readParquet(bytes).intoIPCStream();
	try {
		await connection.query(\`DROP VIEW IF EXISTS "\${source}"."\${table}"\`);
	} catch {
		/* it is a table from an earlier load */
	}
	await connection.query(\`DROP TABLE IF EXISTS "\${source}"."\${table}"\`);
	await connection.insertArrowFromIPCStream(ipc, { schema: source, name: table, create: true });
	// Arrow's millisecond timestamps would arrive as TIMESTAMP_MS; read_parquet gave TIMESTAMP.
	const columns = await connection.query(
		\`SELECT column_name, data_type FROM information_schema.columns
		 WHERE table_schema = '\${source}' AND table_name = '\${table}'\`
	);
	for (const { column_name, data_type } of columns.toArray()) {
		if (/^TIMESTAMP_(MS|S|NS)$/.test(String(data_type)))
			await connection.query(\`ALTER TABLE "\${source}"."\${table}" ALTER COLUMN "\${column_name}" TYPE TIMESTAMP\`);
	}
}

export const NO_EXTENSION_DOWNLOADS = [
	'SET autoinstall_known_extensions = false;',
	'SET autoload_known_extensions = false;'
];
`;

const NO_DOWNLOADS = `
		// offline patch: a query that would need an extension fails at once instead of downloading it
		for (const setting of NO_EXTENSION_DOWNLOADS) await connection.query(setting);`;

const EDITS = {
	// `evidence sources`: the batches parquet-wasm wrote are merged by parquet-wasm, not by DuckDB's COPY.
	'build-parquet.js': [
		[
			"\tTable\n} from 'parquet-wasm/node/arrow1.js';",
			"\tTable,\n\treadParquet\n} from 'parquet-wasm/node/arrow1.js';\nimport { tableFromIPC } from 'apache-arrow';"
		],
		["import { emptyDbFs, initDB, query } from './client-duckdb/node.js';", '// offline patch: DuckDB-WASM is not used here'],
		[
			"\tawait initDB();\n\n\tconst outputFilepath = path.join(outDir, outputFilename);\n\n\tconst parquetFiles",
			'\tconst outputFilepath = path.join(outDir, outputFilename);\n\n\tconst parquetFiles'
		],
		[
			'\tawait query(copy);\n',
			`\t// offline patch: one batch (up to a million rows) already is the file; more are merged by parquet-wasm
	if (tmpFilenames.length === 1) {
		await fs.copyFile(tmpFilenames[0], outputFilepath);
	} else {
		const parts = [];
		for (const f of tmpFilenames) parts.push(tableFromIPC(readParquet(await fs.readFile(f)).intoIPCStream()));
		const merged = parts.slice(1).reduce((a, b) => a.concat(b), parts[0]);
		const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
		await fs.writeFile(outputFilepath, writeParquet(Table.fromIPCStream(tableToIPC(merged, 'stream')), props));
	}
`
		],
		["\tawait emptyDbFs('*');\n\n\tfn_done();", '\n\tfn_done();']
	],
	// Node (server-side rendering and prerendering in `evidence build`).
	'client-duckdb/node.js': [
		[
			"import { withTimeout } from './both.js';",
			"import { withTimeout } from './both.js';\nimport { readFileSync } from 'fs';\nimport { readParquet } from 'parquet-wasm/node/arrow1.js';\nimport { parquetToTable, NO_EXTENSION_DOWNLOADS } from './offline-parquet.js';"
		],
		["\t\tawait connection.query('SET old_implicit_casting = true;');", "\t\tawait connection.query('SET old_implicit_casting = true;');" + NO_DOWNLOADS],
		[
			`			db.registerFileURL(
				file_name,
				url.split(pathDelimiterRegex).join(path.sep),
				DuckDBDataProtocol.NODE_FS,
				false
			);
			connection.query(
				\`CREATE OR REPLACE VIEW "\${source}"."\${table}" AS (SELECT * FROM read_parquet('\${file_name}'));\`
			);`,
			`			// offline patch: parquet-wasm reads the file, DuckDB-WASM gets Arrow
			await parquetToTable(connection, readParquet, readFileSync(url.split(pathDelimiterRegex).join(path.sep)), source, table);`
		]
	],
	// The reader's browser: the same, with the browser build of parquet-wasm bundled by Vite.
	'client-duckdb/browser.js': [
		[
			"export { tableFromIPC } from 'apache-arrow';",
			`export { tableFromIPC } from 'apache-arrow';
import initParquetWasm, { readParquet } from 'parquet-wasm/esm/arrow1.js';
import parquetWasmUrl from 'parquet-wasm/esm/arrow1_bg.wasm?url';
import { parquetToTable, NO_EXTENSION_DOWNLOADS } from './offline-parquet.js';
let parquetWasmReady;`
		],
		["\t\tawait connection.query('SET old_implicit_casting = true;');", "\t\tawait connection.query('SET old_implicit_casting = true;');" + NO_DOWNLOADS],
		[
			`				await db.registerFileURL(file_name, addBasePath(path), DuckDBDataProtocol.HTTP, false);
				await connection.query(
					\`CREATE OR REPLACE VIEW "\${source}"."\${table}" AS (SELECT * FROM read_parquet('\${file_name}'));\`
				);`,
			`				// offline patch: parquet-wasm reads the file, DuckDB-WASM gets Arrow
				parquetWasmReady ??= initParquetWasm(parquetWasmUrl);
				await parquetWasmReady;
				const res = await fetch(addBasePath(path));
				if (!res.ok) throw new Error(\`could not fetch \${path}: HTTP \${res.status}\`);
				await parquetToTable(connection, readParquet, new Uint8Array(await res.arrayBuffer()), source, table);`
		]
	]
};

function patched(file) {
	return fs.readFileSync(path.join(src, file), 'utf8').startsWith(MARK);
}

if (checkOnly) {
	const missing = ['client-duckdb/offline-parquet.js', ...Object.keys(EDITS)].filter(
		(f) => !fs.existsSync(path.join(src, f)) || !patched(f)
	);
	if (missing.length) fail(`not patched: ${missing.join(', ')} (run \`make setup\`)`);
	console.log('offline patch: applied');
	process.exit(0);
}

fs.writeFileSync(path.join(src, 'client-duckdb', 'offline-parquet.js'), HELPER);
for (const [file, edits] of Object.entries(EDITS)) {
	if (patched(file)) {
		console.log(`offline patch: ${file} already patched`);
		continue;
	}
	let text = fs.readFileSync(path.join(src, file), 'utf8');
	for (const [from, to] of edits) {
		const at = text.indexOf(from);
		if (at < 0 || text.indexOf(from, at + 1) >= 0)
			fail(`${file} of @evidence-dev/universal-sql ${PINNED['@evidence-dev/universal-sql']} does not contain, once, the code this patch replaces:\n${from}`);
		text = text.replace(from, () => to);
	}
	fs.writeFileSync(path.join(src, file), `${MARK}\n${text}`);
	console.log(`offline patch: ${file} patched`);
}
