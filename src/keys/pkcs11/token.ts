/**
 * A logged-in session on a PKCS#11 token (PKCS#11 v2.40, OASIS), through pkcs11js. Only what the
 * root provider needs: generate non-extractable keys, find them by label and id, HMAC and AES-GCM
 * with them, destroy them. Every failure becomes a VaultError with a code an operator can act on.
 *
 * A module is initialised once per process (C_Initialize is per process, §5.4) and shared by
 * every provider that loads it; it is finalised when the last one closes.
 */
import { createRequire } from "node:module";
import type * as P11 from "pkcs11js";
import { VaultError } from "../../errors.js";

export type TokenSelector = { readonly label: string } | { readonly slot: number };

export interface TokenOptions {
  readonly module: string;
  readonly token: TokenSelector;
  readonly pin: string;
}

/** Handles of the objects a provider keeps: secret keys, marked as such by the token. */
export type KeyHandle = P11.Handle;

type Lib = typeof P11;

// PKCS#11 return values with their own meaning here (v2.40 §11.1).
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_INVALID = 0xa1;
const CKR_PIN_LEN_RANGE = 0xa2;
const CKR_PIN_LOCKED = 0xa4;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_MECHANISM_INVALID = 0x70;
const CKR_TOKEN_NOT_PRESENT = 0xe0;
const CKR_DEVICE_REMOVED = 0x32;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
const CKR_GENERAL_ERROR = 0x5;
const CKR_USER_PIN_NOT_INITIALIZED = 0x102;

let lib: Lib | undefined;
function pkcs11js(): Lib {
  if (lib) return lib;
  try {
    // CommonJS native addon, loaded on first use so vaults without an HSM never need it.
    lib = createRequire(import.meta.url)("pkcs11js") as Lib;
    return lib;
  } catch (e) {
    throw new VaultError(
      "HSM_MODULE_UNAVAILABLE",
      "the pkcs11js package is not installed (it is an optional dependency: npm install pkcs11js)",
      { cause: e },
    );
  }
}

interface LoadedModule {
  readonly p11: P11.PKCS11;
  users: number;
}
const modules = new Map<string, LoadedModule>();

function loadModule(path: string): LoadedModule {
  const known = modules.get(path);
  if (known) {
    known.users++;
    return known;
  }
  const L = pkcs11js();
  const p11 = new L.PKCS11();
  try {
    p11.load(path);
  } catch (e) {
    throw new VaultError("HSM_MODULE_UNAVAILABLE", `cannot load the PKCS#11 module ${path}`, { cause: e });
  }
  try {
    p11.C_Initialize();
  } catch (e) {
    if (codeOf(e) !== CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw new VaultError("HSM_MODULE_UNAVAILABLE", `the PKCS#11 module ${path} failed to initialise`, {
        cause: e,
      });
    }
  }
  const m = { p11, users: 1 };
  modules.set(path, m);
  return m;
}

function unloadModule(path: string): void {
  const m = modules.get(path);
  if (!m || --m.users > 0) return;
  modules.delete(path);
  try {
    m.p11.C_Finalize();
  } catch {
    // already finalised: nothing left to release
  }
  try {
    m.p11.close();
  } catch {
    // the library stays mapped; harmless
  }
}

function codeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "number" ? c : undefined;
}

/** Mechanisms the root provider uses; a token without one is refused at open. */
export function requiredMechanisms(L: Lib = pkcs11js()): ReadonlyMap<number, string> {
  return new Map([
    [L.CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN"],
    [L.CKM_AES_GCM, "CKM_AES_GCM"],
    [L.CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN"],
    [L.CKM_SHA256_HMAC, "CKM_SHA256_HMAC"],
  ]);
}

export class Token {
  readonly #L: Lib;
  readonly #module: string;
  readonly #p11: P11.PKCS11;
  #session: P11.Handle | undefined;
  /** Which token, for messages. */
  readonly description: string;

  private constructor(L: Lib, module: string, p11: P11.PKCS11, session: P11.Handle, description: string) {
    this.#L = L;
    this.#module = module;
    this.#p11 = p11;
    this.#session = session;
    this.description = description;
  }

  /**
   * Loads the module, finds the token, checks its mechanisms, opens a session and logs in. The
   * lookup and login are tried again on the answers SoftHSM2 gives while another process
   * rewrites the token's file (see `openPatiently`).
   */
  static async open(o: TokenOptions): Promise<Token> {
    const L = pkcs11js();
    const m = loadModule(o.module);
    try {
      const session = await openPatiently(L, m, o);
      return new Token(L, o.module, m.p11, session, describe(o));
    } catch (e) {
      unloadModule(o.module);
      throw e;
    }
  }

  #live(): P11.Handle {
    if (this.#session === undefined) throw new VaultError("VAULT_CLOSED", "HSM session closed");
    return this.#session;
  }

  /**
   * Generates a token key that can never leave the token (CKA_SENSITIVE, not CKA_EXTRACTABLE,
   * §4.9): `hmac`, a 32-byte generic secret for CKM_SHA256_HMAC; `aes`, an AES-256 key for GCM.
   */
  generate(kind: "hmac" | "aes", label: string, id: Uint8Array): KeyHandle {
    const L = this.#L;
    const common: P11.Template = [
      { type: L.CKA_CLASS, value: L.CKO_SECRET_KEY },
      { type: L.CKA_TOKEN, value: true },
      { type: L.CKA_PRIVATE, value: true },
      { type: L.CKA_SENSITIVE, value: true },
      { type: L.CKA_EXTRACTABLE, value: false },
      { type: L.CKA_MODIFIABLE, value: false },
      { type: L.CKA_LABEL, value: label },
      { type: L.CKA_ID, value: Buffer.from(id) },
      { type: L.CKA_VALUE_LEN, value: 32 },
      { type: L.CKA_WRAP, value: false },
      { type: L.CKA_UNWRAP, value: false },
      { type: L.CKA_DERIVE, value: false },
    ];
    const template: P11.Template =
      kind === "hmac"
        ? [
            ...common,
            { type: L.CKA_KEY_TYPE, value: L.CKK_GENERIC_SECRET },
            { type: L.CKA_SIGN, value: true },
            { type: L.CKA_VERIFY, value: false },
            { type: L.CKA_ENCRYPT, value: false },
            { type: L.CKA_DECRYPT, value: false },
          ]
        : [
            ...common,
            { type: L.CKA_KEY_TYPE, value: L.CKK_AES },
            { type: L.CKA_ENCRYPT, value: true },
            { type: L.CKA_DECRYPT, value: true },
            { type: L.CKA_SIGN, value: false },
            { type: L.CKA_VERIFY, value: false },
          ];
    const mech = kind === "hmac" ? L.CKM_GENERIC_SECRET_KEY_GEN : L.CKM_AES_KEY_GEN;
    try {
      return this.#p11.C_GenerateKey(this.#live(), { mechanism: mech }, template);
    } catch (e) {
      throw translate(e, `generating a key on ${this.description}`);
    }
  }

  /** Secret keys with this label (and id, when given). */
  find(label: string, id?: Uint8Array): KeyHandle[] {
    const L = this.#L;
    const s = this.#live();
    const template: P11.Template = [
      { type: L.CKA_CLASS, value: L.CKO_SECRET_KEY },
      { type: L.CKA_LABEL, value: label },
      ...(id ? [{ type: L.CKA_ID, value: Buffer.from(id) }] : []),
    ];
    try {
      this.#p11.C_FindObjectsInit(s, template);
      try {
        const out: KeyHandle[] = [];
        for (;;) {
          const batch = this.#p11.C_FindObjects(s, 64);
          if (batch.length === 0) return out;
          out.push(...batch);
        }
      } finally {
        this.#p11.C_FindObjectsFinal(s);
      }
    } catch (e) {
      throw translate(e, `looking up keys on ${this.description}`);
    }
  }

  /** The CKA_ID of a key. */
  idOf(key: KeyHandle): Uint8Array {
    try {
      const [a] = this.#p11.C_GetAttributeValue(this.#live(), key, [{ type: this.#L.CKA_ID }]);
      return new Uint8Array(a?.value ?? Buffer.alloc(0));
    } catch (e) {
      throw translate(e, `reading a key's id on ${this.description}`);
    }
  }

  /** HMAC-SHA256 of data under a token key (CKM_SHA256_HMAC, §2.20.4). */
  hmac(key: KeyHandle, data: Uint8Array): Uint8Array {
    const s = this.#live();
    try {
      this.#p11.C_SignInit(s, { mechanism: this.#L.CKM_SHA256_HMAC }, key);
      return new Uint8Array(this.#p11.C_Sign(s, Buffer.from(data), Buffer.alloc(32)));
    } catch (e) {
      throw translate(e, `HMAC on ${this.description}`);
    }
  }

  /** AES-256-GCM (CKM_AES_GCM, §2.11.2): 96-bit IV, 128-bit tag appended to the ciphertext. */
  encrypt(key: KeyHandle, iv: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array {
    const s = this.#live();
    try {
      this.#p11.C_EncryptInit(s, this.#gcm(iv, aad), key);
      return new Uint8Array(this.#p11.C_Encrypt(s, Buffer.from(plain), Buffer.alloc(plain.length + 16)));
    } catch (e) {
      throw translate(e, `encrypting on ${this.description}`);
    }
  }

  /** AES-256-GCM decryption; a wrong key, IV, AAD or a changed byte fails (CKR_ENCRYPTED_DATA_INVALID). */
  decrypt(key: KeyHandle, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    const s = this.#live();
    try {
      this.#p11.C_DecryptInit(s, this.#gcm(iv, aad), key);
    } catch (e) {
      throw translate(e, `decrypting on ${this.description}`);
    }
    try {
      return new Uint8Array(this.#p11.C_Decrypt(s, Buffer.from(sealed), Buffer.alloc(sealed.length)));
    } catch {
      return undefined; // authentication failed: the caller says what that means
    }
  }

  #gcm(iv: Uint8Array, aad: Uint8Array): P11.Mechanism {
    const L = this.#L;
    // The v2.40 CK_GCM_PARAMS (with ulIvBits), as SoftHSM2 and current HSMs read it.
    const parameter: P11.AesGCM = {
      type: L.CK_PARAMS_AES_GCM_v240,
      iv: Buffer.from(iv),
      aad: Buffer.from(aad),
      ivBits: 96,
      tagBits: 128,
    };
    return { mechanism: L.CKM_AES_GCM, parameter };
  }

  /** Destroys a token object: the token erases the key (§5.7, C_DestroyObject). */
  destroy(key: KeyHandle): void {
    try {
      this.#p11.C_DestroyObject(this.#live(), key);
    } catch (e) {
      throw translate(e, `destroying a key on ${this.description}`);
    }
  }

  close(): void {
    if (this.#session === undefined) return;
    try {
      this.#p11.C_CloseSession(this.#session);
    } catch {
      // the token may be gone already
    }
    this.#session = undefined;
    unloadModule(this.#module);
  }
}

function describe(o: TokenOptions): string {
  return "label" in o.token ? `token "${o.token.label}"` : `slot ${o.token.slot}`;
}

/**
 * Finds the token and logs in, trying again a few times before giving up. SoftHSM2's file store
 * rewrites the token's file at each login (its flags); a process reading it at that moment sees
 * the token absent, gets CKR_GENERAL_ERROR from C_GetSlotList, C_GetTokenInfo or C_Login, or
 * CKR_USER_PIN_NOT_INITIALIZED from C_Login. The last sticks to the module's copy of the token,
 * so when this provider is the module's only user the module is initialised again between
 * tries, to read the token directory afresh. Seen in CI with four processes opening one
 * HSM-rooted vault, and reproduced by twelve processes opening one token 40 times each.
 */
async function openPatiently(L: Lib, m: LoadedModule, o: TokenOptions): Promise<P11.Handle> {
  for (let attempt = 0; ; attempt++) {
    try {
      return openSession(L, m.p11, o);
    } catch (e) {
      if (!transientOpenFailure(e) || attempt >= 6) throw e;
    }
    await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
    if (m.users === 1) {
      try {
        m.p11.C_Finalize();
        m.p11.C_Initialize();
      } catch (e) {
        throw new VaultError(
          "HSM_MODULE_UNAVAILABLE",
          `the PKCS#11 module ${o.module} failed to initialise`,
          {
            cause: e,
          },
        );
      }
    }
  }
}

/** One try at finding the token, checking its mechanisms, opening a session and logging in. */
function openSession(L: Lib, p11: P11.PKCS11, o: TokenOptions): P11.Handle {
  const slot = findSlot(L, p11, o.token, o.module);
  let have: Set<number>;
  let session: P11.Handle;
  try {
    have = new Set(p11.C_GetMechanismList(slot));
  } catch (e) {
    throw translate(e, `listing the mechanisms of ${describe(o)}`);
  }
  const missing = [...requiredMechanisms(L)].filter(([id]) => !have.has(id)).map(([, name]) => name);
  if (missing.length > 0)
    throw new VaultError(
      "HSM_MECHANISM_UNSUPPORTED",
      `the token lacks ${missing.join(", ")} (needed for the vault's root keys)`,
    );
  try {
    session = p11.C_OpenSession(slot, L.CKF_SERIAL_SESSION | L.CKF_RW_SESSION);
  } catch (e) {
    throw translate(e, `opening a session on ${describe(o)}`);
  }
  try {
    p11.C_Login(session, L.CKU_USER, o.pin);
    return session;
  } catch (e) {
    p11.C_CloseSession(session);
    // Another provider of this process logged in (login state is per application, §6.7): this
    // PIN goes unchecked, as the process already holds the token's user session.
    if (codeOf(e) === CKR_USER_ALREADY_LOGGED_IN)
      return p11.C_OpenSession(slot, L.CKF_SERIAL_SESSION | L.CKF_RW_SESSION);
    throw loginFailure(e, describe(o));
  }
}

/** An open worth repeating: the token looked absent, or the module failed while reading it. */
function transientOpenFailure(e: unknown): boolean {
  if (!(e instanceof VaultError)) return false;
  if (e.code === "HSM_TOKEN_NOT_FOUND") return true;
  const code = codeOf(e.cause);
  return code === CKR_GENERAL_ERROR || code === CKR_USER_PIN_NOT_INITIALIZED;
}

function findSlot(L: Lib, p11: P11.PKCS11, sel: TokenSelector, module: string): P11.Handle {
  let slots: P11.Handle[];
  try {
    slots = p11.C_GetSlotList(true);
  } catch (e) {
    throw translate(e, `listing the slots of ${module}`);
  }
  for (const slot of slots) {
    if ("slot" in sel) {
      // a slot handle is the CK_SLOT_ID (a CK_ULONG) in native byte order
      const id = slot.length >= 8 ? Number(slot.readBigUInt64LE(0)) : slot.readUInt32LE(0);
      if (id === sel.slot) return slot;
      continue;
    }
    let info: P11.TokenInfo;
    try {
      info = p11.C_GetTokenInfo(slot);
    } catch (e) {
      throw translate(e, `reading the token in a slot of ${module}`);
    }
    if (info.label.trim() === sel.label) {
      if ((info.flags & L.CKF_USER_PIN_LOCKED) !== 0)
        throw new VaultError("HSM_TOKEN_LOCKED", `the user PIN of token "${sel.label}" is locked`);
      return slot;
    }
  }
  throw new VaultError(
    "HSM_TOKEN_NOT_FOUND",
    `no token ${"label" in sel ? `labelled "${sel.label}"` : `in slot ${sel.slot}`} in ${module}`,
  );
}

/**
 * What a failed C_Login means (v2.40 §5.6): a locked PIN (SoftHSM2 never locks one, so this path
 * is checked by its code alone), a wrong one, or a failure of the token.
 */
export function loginFailure(e: unknown, token: string): VaultError {
  const code = codeOf(e);
  if (code === CKR_PIN_LOCKED)
    return new VaultError("HSM_TOKEN_LOCKED", `the user PIN of ${token} is locked`, { cause: e });
  if (code === CKR_PIN_INCORRECT || code === CKR_PIN_INVALID || code === CKR_PIN_LEN_RANGE)
    return new VaultError("HSM_PIN_INCORRECT", `${token} refused the PIN`, { cause: e });
  if (code === CKR_USER_PIN_NOT_INITIALIZED)
    return new VaultError("KEY_UNAVAILABLE", `the user PIN of ${token} is not initialised`, {
      cause: e,
    });
  return translate(e, `login to ${token}`);
}

function translate(e: unknown, what: string): VaultError {
  if (e instanceof VaultError) return e;
  const code = codeOf(e);
  if (code === CKR_MECHANISM_INVALID)
    return new VaultError("HSM_MECHANISM_UNSUPPORTED", `${what}: mechanism not supported`, { cause: e });
  if (code === CKR_TOKEN_NOT_PRESENT || code === CKR_DEVICE_REMOVED)
    return new VaultError("KEY_UNAVAILABLE", `${what}: the token is not present`, { cause: e });
  return new VaultError(
    "KEY_UNAVAILABLE",
    `${what} failed (PKCS#11 ${code !== undefined ? `0x${code.toString(16)}` : "error"})`,
    {
      cause: e,
    },
  );
}
