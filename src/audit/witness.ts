/**
 * A witness a second party runs against a vault (`voxvault audit witness …`): c2sp.org/tlog-witness
 * over files instead of HTTP. It keeps, per log origin, the trusted log keys and the latest
 * checkpoint it cosigned; it cosigns a new checkpoint only if the checkpoint is signed by a
 * trusted key and a consistency proof links it to the one it cosigned last — so it never
 * cosigns two views of one log (a fork) and never goes backwards.
 *
 * State directory (mode 0700):
 *   witness.json          {"format":"voxvault-witness/1","name":…,"vkey":…}
 *   witness.key           PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>   (mode 0600)
 *   logs/<h>.json         {"origin","logKeys":[vkey…],"size","rootHash","checkpoint"}
 *   logs/<h>.lock         held while one add-checkpoint checks and updates that log (§add-checkpoint:
 *                         the check of the old size and the update must be atomic)
 * where <h> is the hex SHA-256 of the origin.
 */
import { createHash } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { VaultError, isVaultError } from "../errors.js";
import { writeFileAtomic } from "../fsutil/atomic.js";
import { decodeBase64Strict, encodeBase64 } from "../tlog/encoding.js";
import {
  SIGNATURE_TYPE_COSIGNATURE_V1,
  SIGNATURE_TYPE_ED25519,
  emptyRoot,
  generateKeyStrings,
  openNote,
  parseCheckpoint,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  verifyConsistency,
} from "../tlog/index.js";
import { parseAddCheckpoint, type WitnessResponse } from "./witness-protocol.js";

export const WITNESS_FORMAT = "voxvault-witness/1";

const WitnessFile = z.strictObject({ format: z.literal(WITNESS_FORMAT), name: z.string(), vkey: z.string() });
const LogFile = z.strictObject({
  origin: z.string().min(1),
  logKeys: z.array(z.string()).min(1),
  size: z.number().int().min(0),
  rootHash: z.string(),
  checkpoint: z.string().nullable(),
});
type LogRecord = z.infer<typeof LogFile>;

export interface WitnessInfo {
  readonly name: string;
  readonly vkey: string;
  readonly logs: readonly {
    readonly origin: string;
    readonly size: number;
    readonly logKeys: readonly string[];
  }[];
}

function logFile(dir: string, origin: string, ext: string): string {
  return path.join(dir, "logs", `${createHash("sha256").update(origin).digest("hex")}.${ext}`);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8"));
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return undefined;
    throw new VaultError("CONFIG_INVALID", `cannot read ${file}`, { cause: e });
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"), {
    mode: 0o600,
  });
}

async function loadWitness(dir: string): Promise<z.infer<typeof WitnessFile>> {
  const raw = await readJson(path.join(dir, "witness.json"));
  if (raw === undefined)
    throw new VaultError("CONFIG_INVALID", `no witness in ${dir} (run audit witness init)`);
  const p = WitnessFile.safeParse(raw);
  if (!p.success) throw new VaultError("CONFIG_INVALID", `${dir}/witness.json is malformed`);
  return p.data;
}

async function loadLog(dir: string, origin: string): Promise<LogRecord | undefined> {
  const raw = await readJson(logFile(dir, origin, "json"));
  if (raw === undefined) return undefined;
  const p = LogFile.safeParse(raw);
  if (!p.success || p.data.origin !== origin) {
    throw new VaultError("CONFIG_INVALID", `witness state for ${origin} is malformed`);
  }
  return p.data;
}

/** Creates a witness: a fresh cosignature/v1 key named `name`. Returns its verifier key. */
export async function initWitness(dir: string, name: string): Promise<string> {
  await fs.mkdir(path.join(dir, "logs"), { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  if ((await readJson(path.join(dir, "witness.json"))) !== undefined) {
    throw new VaultError("VAULT_EXISTS", `${dir} already holds a witness`);
  }
  const keys = generateKeyStrings(name, SIGNATURE_TYPE_COSIGNATURE_V1);
  await writeFileAtomic(path.join(dir, "witness.key"), new TextEncoder().encode(keys.signerKey + "\n"), {
    mode: 0o600,
  });
  await writeJson(path.join(dir, "witness.json"), { format: WITNESS_FORMAT, name, vkey: keys.verifierKey });
  return keys.verifierKey;
}

export async function witnessInfo(dir: string): Promise<WitnessInfo> {
  const w = await loadWitness(dir);
  const logs: { origin: string; size: number; logKeys: string[] }[] = [];
  const names = await fs.readdir(path.join(dir, "logs")).catch(() => [] as string[]);
  for (const n of names.filter((f) => f.endsWith(".json")).sort()) {
    const p = LogFile.safeParse(await readJson(path.join(dir, "logs", n)));
    if (p.success) logs.push({ origin: p.data.origin, size: p.data.size, logKeys: p.data.logKeys });
  }
  return { name: w.name, vkey: w.vkey, logs };
}

/** Trusts a log key (type 0x01 vkey) for `origin` (default: the key's name). */
export async function trustLog(dir: string, vkey: string, origin?: string): Promise<string> {
  await loadWitness(dir);
  const v = parseVerifierKey(vkey);
  if (v.type !== SIGNATURE_TYPE_ED25519) {
    throw new VaultError("INVALID_ARGUMENT", "a log key must be an Ed25519 (type 0x01) verifier key");
  }
  const o = origin ?? v.name;
  const current = await loadLog(dir, o);
  const next: LogRecord = current
    ? { ...current, logKeys: [...new Set([...current.logKeys, vkey])] }
    : { origin: o, logKeys: [vkey], size: 0, rootHash: encodeBase64(emptyRoot()), checkpoint: null };
  await writeJson(logFile(dir, o, "json"), next);
  return o;
}

/** Holds the per-log lock for `fn`. A lock older than a minute is a crashed holder's and is broken. */
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const h = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await h.writeFile(String(process.pid));
      await h.close();
      break;
    } catch (e) {
      if ((e as { code?: unknown }).code !== "EEXIST") throw e;
      const st = await fs.stat(file).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await fs.rm(file, { force: true });
      else if (Date.now() > deadline)
        throw new VaultError("VAULT_BUSY", "another add-checkpoint holds the witness lock");
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(file, { force: true });
  }
}

function respond(
  status: WitnessResponse["status"],
  body: string,
  contentType = "text/plain; charset=utf-8",
): WitnessResponse {
  return { status, contentType, body };
}

/**
 * Handles one add-checkpoint request body (c2sp.org/tlog-witness §add-checkpoint), returning
 * what the HTTP endpoint would: 200 with a cosignature line, or 400/403/404/409/422.
 */
export async function addCheckpoint(
  dir: string,
  body: string,
  clock: () => number = () => Math.floor(Date.now() / 1000),
): Promise<WitnessResponse> {
  const witness = await loadWitness(dir);
  let req;
  let text: string;
  let cp;
  try {
    req = parseAddCheckpoint(body);
    text = parseNote(req.checkpoint).text;
    cp = parseCheckpoint(text);
  } catch (e) {
    if (!isVaultError(e)) throw e;
    return respond(400, `${e.message}\n`);
  }
  const log = await loadLog(dir, cp.origin);
  if (!log) return respond(404, `unknown log origin ${cp.origin}\n`);
  try {
    // Unknown keys are ignored; every signature by a trusted key must verify, and one must exist.
    openNote(
      req.checkpoint,
      log.logKeys.map((k) => parseVerifierKey(k)),
    );
  } catch (e) {
    if (!isVaultError(e)) throw e;
    return respond(403, `checkpoint is not signed by a trusted key of ${cp.origin}\n`);
  }
  if (req.oldSize > cp.size) return respond(400, "old size is larger than the checkpoint size\n");
  const request = req;
  const checkpoint = cp;
  return withLock(logFile(dir, cp.origin, "lock"), async () => {
    const state = (await loadLog(dir, checkpoint.origin))!;
    if (request.oldSize !== state.size) return respond(409, `${state.size}\n`, "text/x.tlog.size");
    const stateRoot = decodeBase64Strict(state.rootHash);
    if (!stateRoot)
      throw new VaultError("CONFIG_INVALID", `witness state for ${checkpoint.origin} is malformed`);
    if (request.oldSize === checkpoint.size) {
      if (request.proof.length > 0) return respond(400, "a proof between equal sizes must be empty\n");
      if (state.checkpoint !== null && !Buffer.from(stateRoot).equals(Buffer.from(checkpoint.rootHash))) {
        return respond(409, `${state.size}\n`, "text/x.tlog.size"); // same size, other root: a fork
      }
    } else if (request.oldSize === 0) {
      if (request.proof.length > 0) return respond(400, "the proof must be empty when the old size is 0\n");
    } else {
      try {
        verifyConsistency(request.oldSize, checkpoint.size, request.proof, stateRoot, checkpoint.rootHash);
      } catch (e) {
        if (!isVaultError(e, "PROOF_INVALID")) throw e;
        return respond(422, "the consistency proof does not verify: refusing to cosign a fork\n");
      }
    }
    const signer = parseSignerKey((await fs.readFile(path.join(dir, "witness.key"), "utf8")).trim(), clock);
    if (signer.name !== witness.name)
      throw new VaultError("CONFIG_INVALID", "witness.key does not match witness.json");
    const signature = await signer.sign(new TextEncoder().encode(text));
    const sigBytes = new Uint8Array(4 + signature.length);
    new DataView(sigBytes.buffer).setUint32(0, signer.keyId);
    sigBytes.set(signature, 4);
    // Persist before answering (§add-checkpoint).
    await writeJson(logFile(dir, checkpoint.origin, "json"), {
      ...state,
      size: checkpoint.size,
      rootHash: encodeBase64(checkpoint.rootHash),
      checkpoint: request.checkpoint,
    });
    return respond(200, `\u2014 ${signer.name} ${encodeBase64(sigBytes)}\n`);
  });
}
