/**
 * A root in the middle of `voxvault keys migrate --to hsm` (docs/operations.md §Moving the root
 * into an HSM): the key file's generations and the token's, as one provider. New generations go
 * to the token; each call on a generation goes to whichever holds it; punctures go to both, so
 * an erasure holds in every generation wherever it lives. The migration's root rotation moves
 * every wrap to a token generation, then the file's generations are destroyed and the file
 * deleted: nothing written after the migration began is wrapped under the file.
 */
import { VaultError } from "../errors.js";
import type { FileKeyProvider } from "./file-provider.js";
import type { Pkcs11KeyProvider } from "./pkcs11/provider.js";
import type { LogPosition, RootKeyProvider } from "./provider.js";

export class MigratingKeyProvider implements RootKeyProvider {
  readonly kind = "pkcs11";
  readonly location: string;
  readonly distribution = undefined;
  readonly file: FileKeyProvider;
  readonly hsm: Pkcs11KeyProvider;

  constructor(file: FileKeyProvider, hsm: Pkcs11KeyProvider) {
    if (file.hostId !== hsm.hostId)
      throw new VaultError("ROOT_KEY_MISMATCH", "the key file and the HSM state belong to different hosts");
    this.file = file;
    this.hsm = hsm;
    this.location = `${hsm.location}; moving from ${file.location}`;
  }

  get hostId(): string {
    return this.hsm.hostId;
  }

  async #holder(g: number): Promise<RootKeyProvider> {
    if ((await this.hsm.generations()).includes(g)) return this.hsm;
    if ((await this.file.generations()).includes(g)) return this.file;
    throw new VaultError("KEY_UNAVAILABLE", `root generation ${g} is not held by this host`);
  }

  async refresh(): Promise<void> {
    await this.file.refresh();
    await this.hsm.refresh();
  }

  async generations(): Promise<readonly number[]> {
    const all = new Set([...(await this.file.generations()), ...(await this.hsm.generations())]);
    return [...all].sort((a, b) => a - b);
  }

  /** Both halves apply the log together; the one behind decides what must be applied again. */
  async applied(): Promise<LogPosition> {
    const [f, h] = [await this.file.applied(), await this.hsm.applied()];
    if (f.log !== h.log) return h.log === "" ? f : h.seq <= f.seq ? h : f;
    return f.seq <= h.seq ? f : h;
  }

  createGeneration(g: number): Promise<void> {
    return this.hsm.createGeneration(g);
  }

  async destroyGeneration(g: number): Promise<void> {
    await (await this.#holder(g)).destroyGeneration(g);
  }

  async puncture(points: readonly number[], through: LogPosition): Promise<void> {
    await this.file.puncture(points, through);
    await this.hsm.puncture(points, through);
  }

  async isPunctured(g: number, point: number): Promise<boolean> {
    return (await this.#holder(g)).isPunctured(g, point);
  }

  async checkValue(g: number): Promise<Uint8Array> {
    return (await this.#holder(g)).checkValue(g);
  }

  async puncturedPoints(g: number, limit: number): Promise<number[]> {
    return (await this.#holder(g)).puncturedPoints(g, limit);
  }

  async wrap(g: number, point: number, secret: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return (await this.#holder(g)).wrap(g, point, secret, aad);
  }

  async unwrap(g: number, point: number, wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return (await this.#holder(g)).unwrap(g, point, wrapped, aad);
  }

  async close(): Promise<void> {
    await this.file.close();
    await this.hsm.close();
  }
}
