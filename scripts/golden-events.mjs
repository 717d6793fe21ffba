/**
 * Regenerates the golden event logs: one NAME.events.jsonl beside each vector NAME in
 * test/fixtures/vectors (or $KUBEWIRE_VECTORS), holding exactly what
 * `kubewire decode --c2s NAME.c2s --s2c NAME.s2c --payload head` prints. The file is the
 * reviewable record of the decoder's output: any change to an event's note, fields or offsets
 * shows up as a diff of these files, and test/codec/golden-events.test.ts fails until they are
 * regenerated on purpose with `npm run golden`.
 *
 * Payloads are recorded with `--payload head` (the first 256 bytes, plus `truncated: true`)
 * rather than in full: full base64 of the 1 MiB cp vectors makes single goldens of 1.4 MB
 * with lines of 87 KB, about 6.5 MiB in all, which no one can review, while head keeps the set
 * near 1 MiB. The head mode changes only `payload` and `truncated`; every other field of every
 * event is the same as with full payloads, and the vectors' expectedSummary already pins the
 * sha256 of every stream's complete bytes.
 *
 * Vectors are found the way test/support/vectors.ts finds them (every NAME.json), and goldens
 * whose vector is gone are removed. Captures carry no clock, so the files are deterministic:
 * no ts, session or conn, and seq starting at 1.
 *
 * Run: npm run golden (builds src/ to dist/ first).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const GOLDEN_SUFFIX = '.events.jsonl';
const GOLDEN_PAYLOAD = 'head';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const vectorsDir = process.env['KUBEWIRE_VECTORS'] ?? join(repoRoot, 'test', 'fixtures', 'vectors');
const entry = new URL('../dist/src/cli/decode-command.js', import.meta.url);

let runDecode;
try {
  ({ runDecode } = await import(entry.href));
} catch (err) {
  console.error(`cannot load the compiled decoder from ${fileURLToPath(entry)}: run \`npm run build\` first\n${err}`);
  process.exit(2);
}

const files = readdirSync(vectorsDir);
const names = files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
let written = 0;
let changed = 0;
let bytes = 0;
for (const name of names) {
  let text = '';
  await runDecode(
    { c2s: join(vectorsDir, `${name}.c2s`), s2c: join(vectorsDir, `${name}.s2c`), payload: GOLDEN_PAYLOAD },
    { line: (l) => { text += `${l}\n`; } },
  );
  const path = join(vectorsDir, `${name}${GOLDEN_SUFFIX}`);
  const before = readOrNull(path);
  if (before !== text) {
    writeFileSync(path, text);
    if (before === null) written++;
    else changed++;
  }
  bytes += Buffer.byteLength(text);
}

const known = new Set(names);
const stale = files.filter((f) => f.endsWith(GOLDEN_SUFFIX) && !known.has(f.slice(0, -GOLDEN_SUFFIX.length)));
for (const f of stale) rmSync(join(vectorsDir, f));

const mib = (bytes / 2 ** 20).toFixed(2);
console.log(`${names.length} golden event logs in ${vectorsDir} (${mib} MiB): ${written} new, ${changed} changed, ${names.length - written - changed} unchanged, ${stale.length} stale removed`);

function readOrNull(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
}
