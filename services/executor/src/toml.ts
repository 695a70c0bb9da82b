/**
 * A TOML subset, enough for benchmark descriptors: `[table]` and `[a.b]` headers, `key = value`
 * with bare or quoted keys, basic ("…", with escapes) and literal ('…') strings, integers, floats,
 * booleans, arrays of those (may span lines), `#` comments. Anything else (multi-line strings,
 * inline tables, dates, dotted keys, arrays of tables) is rejected with the line number, never
 * silently misread.
 */
export class TomlError extends Error {
  constructor(message: string, line: number) {
    super(`TOML line ${line}: ${message}`);
    this.name = "TomlError";
  }
}

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function parseToml(source: string): TomlTable {
  const root: TomlTable = {};
  let table = root;
  const defined = new Set<string>();
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = stripComment(lines[i], lineNo).trim();
    if (line === "") continue;
    if (line.startsWith("[[")) throw new TomlError("arrays of tables are not supported", lineNo);
    if (line.startsWith("[")) {
      const m = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
      if (!m) throw new TomlError(`bad table header ${JSON.stringify(line)}`, lineNo);
      const parts = splitDotted(m[1], lineNo);
      const name = parts.join(".");
      if (defined.has(name)) throw new TomlError(`table [${name}] defined twice`, lineNo);
      defined.add(name);
      table = root;
      for (const p of parts) {
        const next = table[p];
        if (next === undefined) table = table[p] = {};
        else if (isTable(next)) table = next;
        else throw new TomlError(`[${name}]: ${p} is already a value`, lineNo);
      }
      continue;
    }
    const eq = findEquals(line);
    if (eq < 0) throw new TomlError(`expected key = value, got ${JSON.stringify(line)}`, lineNo);
    const key = parseKey(line.slice(0, eq).trim(), lineNo);
    let rest = line.slice(eq + 1).trim();
    // An array may continue on the following lines until its brackets balance.
    while (rest.startsWith("[") && !balanced(rest) && i + 1 < lines.length) {
      i++;
      line = stripComment(lines[i], i + 1).trim();
      rest += ` ${line}`;
    }
    if (Object.prototype.hasOwnProperty.call(table, key))
      throw new TomlError(`key ${key} defined twice`, lineNo);
    const [value, end] = parseValue(rest, 0, lineNo);
    if (rest.slice(end).trim() !== "") {
      throw new TomlError(
        `unexpected text after the value of ${key}: ${JSON.stringify(rest.slice(end))}`,
        lineNo,
      );
    }
    table[key] = value;
  }
  return root;
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Removes a `#` comment that is not inside a string. */
function stripComment(line: string, lineNo: number): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      if (line.startsWith(c.repeat(3), i))
        throw new TomlError("multi-line strings are not supported", lineNo);
      quote = c;
    } else if (c === "#") return line.slice(0, i);
  }
  return line;
}

function findEquals(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "=") return i;
  }
  return -1;
}

function balanced(s: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
  }
  return depth <= 0;
}

function parseKey(raw: string, lineNo: number): string {
  if (BARE_KEY.test(raw)) return raw;
  if (/^"[^"\\]*"$/.test(raw) || /^'[^']*'$/.test(raw)) return raw.slice(1, -1);
  if (raw.includes(".")) throw new TomlError(`dotted keys are not supported (${raw})`, lineNo);
  throw new TomlError(`bad key ${JSON.stringify(raw)}`, lineNo);
}

function splitDotted(raw: string, lineNo: number): string[] {
  return raw.split(".").map((p) => parseKey(p.trim(), lineNo));
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i])) i++;
  return i;
}

function parseValue(s: string, i: number, lineNo: number): [TomlValue, number] {
  i = skipSpace(s, i);
  const c = s[i];
  if (c === '"') return parseBasicString(s, i, lineNo);
  if (c === "'") {
    const end = s.indexOf("'", i + 1);
    if (end < 0) throw new TomlError("unterminated string", lineNo);
    return [s.slice(i + 1, end), end + 1];
  }
  if (c === "[") {
    const out: TomlValue[] = [];
    i = skipSpace(s, i + 1);
    while (s[i] !== "]") {
      if (i >= s.length) throw new TomlError("unterminated array", lineNo);
      const [v, end] = parseValue(s, i, lineNo);
      out.push(v);
      i = skipSpace(s, end);
      if (s[i] === ",") i = skipSpace(s, i + 1);
      else if (s[i] !== "]")
        throw new TomlError(`expected , or ] in array at ${JSON.stringify(s.slice(i))}`, lineNo);
    }
    return [out, i + 1];
  }
  if (c === "{") throw new TomlError("inline tables are not supported", lineNo);
  const m = /^[^\s,\]]+/.exec(s.slice(i));
  const word = m ? m[0] : "";
  const end = i + word.length;
  if (word === "true") return [true, end];
  if (word === "false") return [false, end];
  if (/^[+-]?(0|[1-9](_?[0-9])*)$/.test(word)) return [Number(word.replace(/_/g, "")), end];
  if (/^[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9]+)?$/.test(word)) {
    return [Number(word.replace(/_/g, "")), end];
  }
  throw new TomlError(`unsupported value ${JSON.stringify(word || s.slice(i))}`, lineNo);
}

const ESCAPES: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\" };

function parseBasicString(s: string, i: number, lineNo: number): [string, number] {
  let out = "";
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j];
    if (c === '"') return [out, j + 1];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = s[++j];
    if (e in ESCAPES) out += ESCAPES[e];
    else if (e === "u" || e === "U") {
      const n = e === "u" ? 4 : 8;
      const hex = s.slice(j + 1, j + 1 + n);
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== n) throw new TomlError("bad unicode escape", lineNo);
      out += String.fromCodePoint(parseInt(hex, 16));
      j += n;
    } else throw new TomlError(`bad escape \\${e ?? ""}`, lineNo);
  }
  throw new TomlError("unterminated string", lineNo);
}
