// Child process for the PKCS#11 concurrency test. Uses the built package (npm test builds first).
// argv: options (JSON, Pkcs11ProviderOptions) count; env carries SOFTHSM2_CONF. Opens and closes
// the provider `count` times and prints the error codes and messages of the opens that failed.
import { Pkcs11KeyProvider } from "../../dist/keys/pkcs11/provider.js";

const [optionsJson, countArg] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const failures = [];
for (let i = 0; i < Number(countArg); i++) {
  try {
    const p = await Pkcs11KeyProvider.open(options);
    await p.close();
  } catch (e) {
    failures.push(`${e?.code ?? "raw"}: ${e?.message ?? String(e)}`);
  }
}
process.stdout.write(JSON.stringify(failures));
