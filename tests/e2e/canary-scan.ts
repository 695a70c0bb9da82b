/**
 * Looks for secret values in files, for the canary test (tests/e2e/canary.test.ts): every regular
 * file under the given roots is searched for each canary as written and base64-encoded (how a
 * Kubernetes Secret's data or a docker auth entry would carry it). Symbolic links are not followed
 * (they point elsewhere, or loop); files are read in chunks, so a large log costs no memory.
 */
import * as fs from "fs";
import * as path from "path";

/** How a canary was written where it was found. */
export type Form = "plain" | "base64";

export interface Hit {
  file: string;
  /** The canary's name (never its value: hits are printed). */
  canary: string;
  form: Form;
  /** Byte offset of the first occurrence in the file. */
  offset: number;
}

export interface ScanResult {
  /** Every file searched, once each. */
  files: string[];
  bytes: number;
  /** At most one per file, canary and form. */
  hits: Hit[];
}

interface Needle {
  canary: string;
  form: Form;
  bytes: Buffer;
}

/**
 * What betrays `value` in a file: the value itself, and its base64 at each of the three byte
 * alignments it can have inside a longer encoded text. Of each encoding only the 4-character groups
 * made of the value's bytes alone are kept: the others change with what surrounds it.
 */
export function needles(canary: string, value: string): Needle[] {
  const v = Buffer.from(value, "utf8");
  const out: Needle[] = [{ canary, form: "plain", bytes: v }];
  for (let lead = 0; lead < 3; lead++) {
    const encoded = Buffer.concat([Buffer.alloc(lead), v]).toString("base64");
    const first = lead === 0 ? 0 : 1;
    const last = Math.floor((lead + v.length) / 3);
    if (last - first >= 1) {
      out.push({ canary, form: "base64", bytes: Buffer.from(encoded.slice(4 * first, 4 * last), "ascii") });
    }
  }
  return out;
}

/**
 * Searches every regular file under `roots` (each a directory or a file; all must exist) for the
 * canaries, name → value. `chunkBytes` is how much of a file is read at once.
 */
export function scan(roots: string[], canaries: Record<string, string>, chunkBytes = 1 << 20): ScanResult {
  const all = Object.entries(canaries).flatMap(([name, value]) => needles(name, value));
  const overlap = Math.max(0, ...all.map((n) => n.bytes.length)) - 1;
  const seen = new Set<string>();
  const result: ScanResult = { files: [], bytes: 0, hits: [] };

  const visit = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      // Gone since its directory was read (a log rotated away): nothing left to leak.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) visit(path.join(p, e));
    } else if (st.isFile() && !seen.has(p)) {
      seen.add(p);
      result.files.push(p);
      const { bytes, hits } = searchFile(p, all, overlap, chunkBytes);
      result.bytes += bytes;
      result.hits.push(...hits);
    }
  };
  for (const root of roots) {
    if (!fs.existsSync(root)) throw new Error(`${root} does not exist: nothing there could be searched`);
    visit(path.resolve(root));
  }
  return result;
}

/** Reads `file` once; returns its size and its hits, one per canary and form. */
function searchFile(
  file: string,
  all: Needle[],
  overlap: number,
  chunkBytes: number,
): { bytes: number; hits: Hit[] } {
  const first = new Map<string, Hit>();
  const chunk = Buffer.alloc(Math.max(chunkBytes, 1));
  let carry = Buffer.alloc(0);
  let pos = 0;
  const fd = fs.openSync(file, "r");
  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      // The previous chunk's tail is searched again, so a value split across two reads is found.
      const data = Buffer.concat([carry, chunk.subarray(0, n)]);
      const start = pos - carry.length;
      for (const needle of all) {
        const i = data.indexOf(needle.bytes);
        const key = `${needle.canary}\0${needle.form}`;
        const seen = first.get(key);
        if (i !== -1 && (seen === undefined || start + i < seen.offset)) {
          first.set(key, { file, canary: needle.canary, form: needle.form, offset: start + i });
        }
      }
      carry = data.subarray(Math.max(0, data.length - overlap));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes: pos, hits: [...first.values()] };
}
