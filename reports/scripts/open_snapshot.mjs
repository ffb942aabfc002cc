// Opens a DuckDB file with the report layer's own DuckDB (@duckdb/node-api, as Evidence's
// datasource does) and prints the row count of each table as JSON. Used by the tests to prove
// the Python side writes a storage format the report layer can read.
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
const conn = await instance.connect();
const tables = (await conn.runAndReadAll(
  "select table_name from information_schema.tables where table_schema = 'main' order by 1"
)).getRows().map((r) => r[0]);
const counts = {};
for (const t of tables) {
  const rows = (await conn.runAndReadAll(`select count(*)::integer from "${t}"`)).getRows();
  counts[t] = rows[0][0];
}
console.log(JSON.stringify({ duckdb: (await conn.runAndReadAll('select version()')).getRows()[0][0], counts }));
