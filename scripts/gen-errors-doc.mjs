// Writes docs/errors.md from the ERROR_CODES table (npm run build first), so the doc cannot drift.
import { writeFileSync } from "node:fs";
import { ERROR_CODES } from "../dist/errors.js";

const lines = [
  "# Error codes",
  "",
  "Every failure a caller can act on carries one of these stable codes (`src/errors.ts`; codes are",
  "added, never renamed). The CLI prints one line `error[CODE]: message` on stderr and exits with",
  "status 2 for `USAGE` and 1 for every other code. Messages never contain key material or personal",
  "data. The HTTP API maps codes to statuses; a 5xx response says only `INTERNAL` and a request id.",
  "",
  "Generated from the source by `node scripts/gen-errors-doc.mjs`.",
  "",
  "| code | meaning |",
  "|---|---|",
  ...Object.entries(ERROR_CODES).map(([code, text]) => `| \`${code}\` | ${text} |`),
  "",
];
writeFileSync(new URL("../docs/errors.md", import.meta.url), lines.join("\n"));
console.log(`docs/errors.md: ${Object.keys(ERROR_CODES).length} codes`);
