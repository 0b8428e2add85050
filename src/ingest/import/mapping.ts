/**
 * Which contractor each archive object belongs to: a manifest (CSV with a header row, or JSON
 * lines) naming `key` and `ref` and optionally `externalId`, `kind`, `recordedAt`, `tenant`; or a
 * key pattern, a regular expression whose named groups give `ref` (required) and optionally the
 * same fields (`^(?<ref>[^/]+)/(?<externalId>[^/.]+)\.m4a$`). Strict: an unknown column, a line
 * that does not parse or a pattern without `ref` stops the run before anything is touched.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { VaultError } from "../../errors.js";
import { parseRecordingMetadata, type RecordingMetadata } from "../metadata.js";

export interface MappedObject {
  readonly key: string;
  readonly ref: string;
  readonly tenant?: string | undefined;
  readonly metadata?: RecordingMetadata | undefined;
}

const FIELDS = new Set(["key", "ref", "tenant", "externalId", "kind", "recordedAt"]);

function toMapped(fields: Record<string, string | undefined>, where: string): MappedObject {
  const key = fields.key;
  const ref = fields.ref;
  if (!key || !ref) throw new VaultError("INVALID_ARGUMENT", `${where}: key and ref are required`);
  let metadata: RecordingMetadata | undefined;
  try {
    metadata = parseRecordingMetadata({
      ...(fields.externalId ? { externalId: fields.externalId } : {}),
      ...(fields.kind ? { kind: fields.kind } : {}),
      ...(fields.recordedAt ? { recordedAt: fields.recordedAt } : {}),
    });
  } catch (e) {
    throw new VaultError("INVALID_ARGUMENT", `${where}: ${(e as Error).message}`);
  }
  return { key, ref, ...(fields.tenant ? { tenant: fields.tenant } : {}), ...(metadata ? { metadata } : {}) };
}

/** One CSV record (RFC 4180: quoted fields, doubled quotes; no line breaks inside a field). */
export function parseCsvLine(line: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new VaultError("INVALID_ARGUMENT", `${where}: unterminated quote`);
        field += line.slice(i, q);
        i = q + 1;
        if (line[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
      if (i < line.length && line[i] !== ",")
        throw new VaultError("INVALID_ARGUMENT", `${where}: text after a closing quote`);
    } else {
      const c = line.indexOf(",", i);
      field = c < 0 ? line.slice(i) : line.slice(i, c);
      if (field.includes('"')) throw new VaultError("INVALID_ARGUMENT", `${where}: quote inside a field`);
      i = c < 0 ? line.length : c;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/** Streams a manifest file's entries (format from the extension: .csv, or .jsonl / .ndjson). */
export async function* readManifest(file: string): AsyncGenerator<MappedObject> {
  const csv = /\.csv$/i.test(file);
  if (!csv && !/\.(jsonl|ndjson)$/i.test(file))
    throw new VaultError("USAGE", "--manifest must be a .csv or .jsonl file");
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: string[] | undefined;
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = raw.replace(/^\uFEFF/, "");
    if (line.trim() === "") continue;
    const where = `${file}:${n}`;
    if (csv) {
      const cells = parseCsvLine(line, where);
      if (!header) {
        header = cells.map((c) => c.trim());
        for (const h of header)
          if (!FIELDS.has(h)) throw new VaultError("INVALID_ARGUMENT", `${where}: unknown column ${h}`);
        continue;
      }
      if (cells.length !== header.length)
        throw new VaultError(
          "INVALID_ARGUMENT",
          `${where}: ${cells.length} fields, the header has ${header.length}`,
        );
      yield toMapped(Object.fromEntries(header.map((h, i) => [h, cells[i]])), where);
    } else {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new VaultError("INVALID_ARGUMENT", `${where}: not JSON`);
      }
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new VaultError("INVALID_ARGUMENT", `${where}: not an object`);
      const fields: Record<string, string> = {};
      for (const [k, x] of Object.entries(v)) {
        if (!FIELDS.has(k)) throw new VaultError("INVALID_ARGUMENT", `${where}: unknown field ${k}`);
        if (typeof x !== "string")
          throw new VaultError("INVALID_ARGUMENT", `${where}: ${k} must be a string`);
        fields[k] = x;
      }
      yield toMapped(fields, where);
    }
  }
}

/** A key pattern's mapping; undefined for keys it does not match. */
export function keyPattern(source: string): (key: string) => MappedObject | undefined {
  let re: RegExp;
  try {
    re = new RegExp(source, "u");
  } catch (e) {
    throw new VaultError("USAGE", `--key-pattern: ${(e as Error).message}`);
  }
  if (!source.includes("(?<ref>"))
    throw new VaultError("USAGE", "--key-pattern needs a named group (?<ref>…)");
  for (const [, name] of source.matchAll(/\(\?<([A-Za-z]+)>/g))
    if (!FIELDS.has(name!) || name === "key")
      throw new VaultError("USAGE", `--key-pattern: unknown group ${name}`);
  return (key) => {
    const m = re.exec(key);
    if (!m?.groups) return undefined;
    return toMapped({ ...m.groups, key }, `key ${JSON.stringify(key)}`);
  };
}
