/**
 * The HSM user PIN comes from an environment variable or a private file (mode 0600 in a private
 * directory), never from vault.json or a command-line argument (which other users can read in
 * the process list).
 */
import path from "node:path";
import { VaultError } from "../../errors.js";
import { checkKeyDir, readPrivateFile } from "../../fsutil/private-file.js";

export type PinSource = { readonly env: string } | { readonly file: string };

export async function resolvePin(source: PinSource, env: NodeJS.ProcessEnv): Promise<string> {
  let pin: string;
  if ("env" in source) {
    const v = env[source.env];
    if (v === undefined || v === "")
      throw new VaultError("HSM_PIN_INCORRECT", `the HSM PIN is read from ${source.env}, which is not set`);
    pin = v;
  } else {
    await checkKeyDir(path.dirname(source.file));
    pin = (await readPrivateFile(source.file, "HSM PIN file", 4096)).toString("utf8").replace(/\r?\n$/, "");
  }
  if (pin.length === 0 || pin.length > 255 || /[\0\r\n]/.test(pin))
    throw new VaultError("HSM_PIN_INCORRECT", "the HSM PIN is empty or malformed");
  return pin;
}
