// The main job on the embedded default, with the real CLI: a vault in ./.demo, a contractor, a
// recording abstracted on arrival (raw audio dropped), what was kept, a speaker check against a
// proxy, the audit trail, and a crypto-shred with its certificate.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(".demo");
const bin = path.resolve("dist/bin/voxvault.js");
if (!existsSync(bin)) execFileSync("npm", ["run", "build"], { stdio: "inherit" });
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true, mode: 0o700 });
const env = {
  ...process.env,
  VOXVAULT_DATA_DIR: path.join(root, "vault"),
  XDG_CONFIG_HOME: path.join(root, "config"), // the root key goes here, outside the data directory
};
const vv = (...args) =>
  execFileSync(process.execPath, [bin, ...args], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
const step = (args) => {
  console.log(`\n$ voxvault ${args.join(" ")}`);
  const out = vv(...args);
  process.stdout.write(out);
  return out;
};
const has = (cmd) => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

// Speech from flite's voices (built from recordings of real people) when installed; otherwise a
// generated voiced signal, so the demo runs on any machine.
function speech(name, voice, text) {
  const out = path.join(root, `${name}.wav`);
  if (has("flite")) {
    execFileSync("flite", ["-voice", voice, "-t", text, "-o", out]);
    return out;
  }
  const rate = 16000,
    n = rate * 4,
    b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36);
  b.writeUInt32LE(n * 2, 40);
  const base = voice === "kal16" ? 105 : 190;
  for (let i = 0; i < n; i++) {
    const t = i / rate,
      f0 = base + 15 * Math.sin(2 * Math.PI * 0.7 * t);
    let s = 0;
    for (let h = 1; h <= 10; h++) s += Math.sin(2 * Math.PI * f0 * h * t) / h;
    b.writeInt16LE(Math.round(5000 * s * Math.max(0, Math.sin(2 * Math.PI * 2.5 * t))), 44 + i * 2);
  }
  writeFileSync(out, b);
  return out;
}

console.log(
  has("flite")
    ? "Using flite voices (real speakers) for the recordings."
    : "flite not found: using generated voiced signals.",
);
const interview = speech(
  "interview",
  "slt",
  "Hello, I am applying for the annotation role. I have three years of experience transcribing interviews.",
);
const assessment = speech(
  "assessment",
  "slt",
  "For the skill assessment, I will read this paragraph aloud as clearly as I can.",
);
const callback = speech("callback", "slt", "Thank you for calling me back about the interview on Monday.");
const proxy = speech("proxy", "kal16", "Thank you for calling me back about the interview on Monday.");

step(["init"]);
const subject = JSON.parse(step(["subject", "add", "--ref", "contractor-0042@example.org", "--json"]));
step(["ingest", "--subject", subject.id, interview, assessment]);

console.log("\nWhat the data directory holds (ciphertext under random names; no audio, no names, no keys):");
for (const e of readdirSync(env.VOXVAULT_DATA_DIR, { recursive: true, withFileTypes: true })) {
  if (e.isFile()) {
    const p = path.join(e.parentPath, e.name);
    console.log(`  ${path.relative(root, p)}  ${statSync(p).size} bytes`);
  }
}
const derivations = JSON.parse(vv("derivation", "list", "--subject", subject.id, "--json")).derivations;
const quality = derivations.find((d) => d.name === "quality");
console.log(`\n$ voxvault blob get ${quality.blobId}    # the quality derivation, decrypted (audited)`);
console.log(vv("blob", "get", quality.blobId));

console.log("\nIs the caller on the phone the enrolled contractor, or a proxy?");
step(["verify-speaker", "--subject", subject.id, callback]);
step(["verify-speaker", "--subject", subject.id, proxy]);

console.log(`\n$ voxvault subject shred ${subject.id} --yes > certificate.json`);
const cert = vv("subject", "shred", subject.id, "--yes");
writeFileSync(path.join(root, "certificate.json"), cert);
console.log(cert.split("\n").slice(0, 12).join("\n") + "\n  …");
step(["cert", "verify", path.join(root, "certificate.json")]);
try {
  vv("derivation", "list", "--subject", subject.id);
  vv("blob", "get", quality.blobId);
} catch (e) {
  console.log(`\n$ voxvault blob get ${quality.blobId}\n${e.stderr.trim()}`);
}
step(["audit", "events", "--subject", subject.id]);
console.log(`\nDemo vault left in ${root} (data: vault/, root key: config/voxvault/keys/).`);
