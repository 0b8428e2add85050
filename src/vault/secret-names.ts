/** Names of vault secrets that more than one layer needs (the server makes them, rotation replaces them). */
import path from "node:path";

/** The embedded default's TLS private key (PKCS#8 DER); its certificate is TLS_CERT_FILE in the data directory. */
export const TLS_SECRET = "tls-private-key";
export const TLS_CERT_FILE = path.join("tls", "cert.pem");

/** The key of consumers' per-application pseudonyms (src/access/pseudonyms.ts). */
export const PSEUDONYM_SECRET = "consumer-pseudonym-key";

/** The key of `voxvault import`'s keyed hashes of archive keys and contents (src/ingest/import). */
export const IMPORT_SECRET = "import-content-key";

/** The key of the keyed hashes that name rate-limit buckets (src/access/rate-limits.ts). */
export const RATE_LIMIT_SECRET = "rate-limit-key";
