// Child process for the transparency-log crash test: every kind of write, including log key
// rotation and checkpoint signing, in a random mix until it is killed. Uses the built package.
// argv: dataDir; env carries XDG_CONFIG_HOME and optionally VOXVAULT_PG_URL.
import { randomBytes } from "node:crypto";
import { openVault } from "../../dist/index.js";

const [dataDir] = process.argv.slice(2);
const vault = await openVault({ dataDir });
const ids = (await vault.subjects.list({ status: "active", limit: 1000 })).map((s) => s.id);
process.stdout.write("ready\n");
for (;;) {
  const r = Math.random();
  if (r < 0.3 || ids.length < 3) {
    ids.push((await vault.subjects.add({ ref: randomBytes(8).toString("hex") })).id);
  } else if (r < 0.55) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    await vault.blobs.put({ subjectId: id, kind: "raw", data: [randomBytes(500)] });
  } else if (r < 0.7) {
    await vault.subjects.revealRef(ids[Math.floor(Math.random() * ids.length)]);
  } else if (r < 0.8) {
    await vault.shredding.request(ids.splice(Math.floor(Math.random() * ids.length), 1)[0]);
  } else if (r < 0.88) {
    await vault.log.checkpoint();
  } else if (r < 0.94) {
    await vault.log.rotateKey();
  } else {
    await vault.keys.rotateRoot();
  }
}
