// lancedb.mjs: the LanceDB side of vz's interop test (tests/cli/interop.bats), and the import
// and export the README gives for LanceDB. Uses only LanceDB's documented Node API
// (@lancedb/lancedb, pinned in package.json) and apache-arrow for the table's schema.
//
//   node lancedb.mjs import DIR DB TABLE      a `vz export --to lancedb` directory into DB/TABLE
//   node lancedb.mjs export DB TABLE DIR      DB/TABLE back into that form, for `vz load`
//   node lancedb.mjs check DIR DB TABLE QUERIES VZ_RESULTS
//       every row of DIR/rows.jsonl is in DB/TABLE bit for bit; the top 10 of LanceDB's exact
//       (flat) search agree with vz's for every query of QUERIES (JSON lines with "vector");
//       VZ_RESULTS is `vz query --batch QUERIES --json -k 10` ({"query":i,"results":[{"id"}...]})
//
// The table: id utf8 (not null), vector fixed_size_list<float32>[dim], payload utf8 (the
// payload's JSON text, null when none). Its schema metadata keeps distance_type (LanceDB's
// name of the metric, used for every search) and vz_config (vz.json), so the way back is exact.
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Schema, Utf8 } from "apache-arrow";
import fs from "node:fs";
import path from "node:path";

const lines = (file) => fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
const die = (msg) => {
	console.error(`lancedb.mjs: ${msg}`);
	process.exit(1);
};

async function importDir(dir, db, name) {
	const def = JSON.parse(fs.readFileSync(path.join(dir, "table.json"), "utf8"));
	const vz = fs.readFileSync(path.join(dir, "vz.json"), "utf8").trim();
	const schema = new Schema(
		[
			new Field("id", new Utf8(), false),
			new Field("vector", new FixedSizeList(def.dim, new Field("item", new Float32(), true)), false),
			new Field("payload", new Utf8(), true),
		],
		new Map([["distance_type", def.distance_type], ["vz_config", vz]]),
	);
	const rows = lines(path.join(dir, "rows.jsonl")).map((l) => JSON.parse(l));
	const conn = await lancedb.connect(db);
	const table = await conn.createEmptyTable(name, schema, { mode: "overwrite" });
	for (let i = 0; i < rows.length; i += 10000) await table.add(rows.slice(i, i + 10000));
	return table;
}

// Rows in the table's own order, vectors as the float32 values LanceDB stores.
async function readTable(db, name) {
	const table = await (await lancedb.connect(db)).openTable(name);
	const schema = await table.schema();
	const rows = (await table.query().toArray()).map((r) => ({ id: r.id, vector: Array.from(r.vector), payload: r.payload }));
	return { table, schema, rows };
}

async function exportDir(db, name, dir) {
	const { schema, rows } = await readTable(db, name);
	const vec = schema.fields.find((f) => f.name === "vector");
	fs.mkdirSync(dir);
	const def = { name, vector_column: "vector", dim: vec.type.listSize, distance_type: schema.metadata.get("distance_type") };
	fs.writeFileSync(path.join(dir, "table.json"), JSON.stringify(def) + "\n");
	if (schema.metadata.has("vz_config")) fs.writeFileSync(path.join(dir, "vz.json"), schema.metadata.get("vz_config") + "\n");
	// a float32 value is exact as a double, and String() prints the shortest text that reads
	// back as that double: strtof in vz load gives the same float32
	const out = rows.map((r) => `{"id":${JSON.stringify(r.id)},"vector":[${r.vector.map(String).join(",")}],"payload":${JSON.stringify(r.payload ?? null)}}\n`);
	fs.writeFileSync(path.join(dir, "rows.jsonl"), out.join(""));
}

async function check(dir, db, name, queriesFile, vzFile) {
	const want = lines(path.join(dir, "rows.jsonl")).map((l) => JSON.parse(l));
	const { table, schema, rows } = await readTable(db, name);
	const def = JSON.parse(fs.readFileSync(path.join(dir, "table.json"), "utf8"));
	if (schema.metadata.get("distance_type") !== def.distance_type) die(`distance_type ${schema.metadata.get("distance_type")}, want ${def.distance_type}`);
	if (rows.length !== want.length) die(`${rows.length} rows in LanceDB, ${want.length} exported`);
	const got = new Map(rows.map((r) => [r.id, r]));
	if (got.size !== rows.length) die("duplicate ids in LanceDB");
	for (const w of want) {
		const r = got.get(w.id);
		if (!r) die(`id ${JSON.stringify(w.id)} missing in LanceDB`);
		if (r.payload !== w.payload) die(`id ${JSON.stringify(w.id)}: payload ${JSON.stringify(r.payload)}, exported ${JSON.stringify(w.payload)}`);
		if (r.vector.length !== w.vector.length || r.vector.some((x, i) => x !== Math.fround(w.vector[i])))
			die(`id ${JSON.stringify(w.id)}: vector differs from the export`);
	}
	const queries = lines(queriesFile).map((l) => JSON.parse(l).vector);
	const vz = lines(vzFile).map((l) => JSON.parse(l));
	if (vz.length !== queries.length) die(`${vz.length} vz results for ${queries.length} queries`);
	let same = 0;
	for (let q = 0; q < queries.length; q++) {
		const hits = await table.search(queries[q]).distanceType(def.distance_type).limit(10).toArray();
		const ours = vz[q].results.map((h) => h.id);
		const theirs = hits.map((h) => h.id);
		// the same ten ids; an order that differs may only swap neighbours at equal distance
		const a = [...ours].sort(), b = [...theirs].sort();
		if (a.length !== 10 || a.some((x, i) => x !== b[i])) die(`query ${q}: vz top 10 ${ours.join(" ")}, LanceDB ${theirs.join(" ")}`);
		for (let i = 0; i < 10; i++)
			if (ours[i] !== theirs[i] && Math.abs(hits[i]._distance - hits[theirs.indexOf(ours[i])]._distance) > 1e-6)
				die(`query ${q}: rank ${i + 1}: vz ${ours[i]}, LanceDB ${theirs[i]}`);
		same++;
	}
	console.log(`${rows.length} rows intact, ${same} of ${queries.length} queries with the same top 10`);
}

const [cmd, ...a] = process.argv.slice(2);
if (cmd === "import" && a.length === 3) await importDir(a[0], a[1], a[2]);
else if (cmd === "export" && a.length === 3) await exportDir(a[0], a[1], a[2]);
else if (cmd === "check" && a.length === 5) await check(...a);
else die("usage: import DIR DB TABLE | export DB TABLE DIR | check DIR DB TABLE QUERIES VZ_RESULTS");
