// Child process for multi-process tests. Uses the built package (npm test builds first).
// argv: mode dataDir [count]; env carries XDG_CONFIG_HOME and optionally VOXVAULT_PG_URL.
import { randomBytes } from "node:crypto";
import { openVault } from "../../dist/index.js";

const [mode, dataDir, countArg] = process.argv.slice(2);
const count = Number(countArg ?? "10");
const vault = await openVault({ dataDir });

async function retry(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (e?.code !== "VAULT_BUSY" || i > 20) throw e;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 50));
    }
  }
}

if (mode === "writer") {
  for (let i = 0; i < count; i++) {
    const s = await retry(() => vault.subjects.add({ ref: `${process.pid}-${i}` }));
    await retry(() => vault.blobs.put({ subjectId: s.id, kind: "raw", data: [randomBytes(2000)] }));
  }
  process.stdout.write("done\n");
} else if (mode === "chaos") {
  // Runs until killed: a random mix of every state-changing operation. "ready" once the vault is
  // open, then one "op" line per committed operation, so the test kills at a point it chose
  // relative to real progress, never after a guessed delay.
  const ids = (await vault.subjects.list({ status: "active", limit: 1000 })).map((s) => s.id);
  process.stdout.write("ready\n");
  for (;;) {
    const r = Math.random();
    if (r < 0.35 || ids.length < 3) {
      const s = await vault.subjects.add({ ref: randomBytes(8).toString("hex") });
      ids.push(s.id);
    } else if (r < 0.7) {
      const id = ids[Math.floor(Math.random() * ids.length)];
      await vault.blobs.put({ subjectId: id, kind: "raw", data: [randomBytes(3000)] });
    } else if (r < 0.85) {
      const id = ids.splice(Math.floor(Math.random() * ids.length), 1)[0];
      await vault.shredding.request(id);
    } else if (r < 0.93) {
      await vault.keys.rotateRoot();
    } else {
      await vault.keys.rotateSubject(ids[Math.floor(Math.random() * ids.length)]);
    }
    process.stdout.write("op\n");
  }
}
await vault.close();
