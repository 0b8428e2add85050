/**
 * Everything CLI commands need beyond their declarations, behind one dynamic import: `--help`
 * and argument errors load none of it, and a command loads it as a few files rather than one per
 * module (the bundle splits at each dynamic import; docs/benchmarks.md, "CLI start-up").
 * The HTTP server and the Cedar engine stay separate: only `serve` and `policy check` need them.
 */
export { initVault, openVault } from "../public-vault.js";
export { verifySubjectBundle } from "../audit/subject-view.js";
export { addCheckpoint, initWitness, trustLog, witnessInfo } from "../audit/witness.js";
export { witnessErrorCode } from "../audit/witness-protocol.js";
export { defaultHsmStateFile, defaultKeyFile } from "../keys/key-file.js";
export { exitStatusFor, runDoctor, sarif, table } from "../doctor/index.js";
export { ensureServerTls, fingerprint } from "../server/tls.js";
export { certificateKeyId, parseCertificateDocument, verifyCertificate } from "../vault/certificates.js";
export { joinVault, locateRoot, migrateRootToHsm, restoreVault } from "../platform/lifecycle.js";
export { newQuorum, parseShare } from "../keys/quorum.js";
export { fromBase64, toBase64 } from "../crypto/bytes.js";
