/**
 * The ingest service, loaded on its first call: it brings the audio decoders, the feature
 * pipeline and template protection, which opening a vault to list subjects or rotate keys never
 * needs (CLI start-up, docs/benchmarks.md). Same methods, same errors.
 */
import type { IngestDeps, IngestService } from "./service.js";

export function lazyIngestService(deps: IngestDeps): IngestService {
  let service: Promise<IngestService> | undefined;
  const load = () => (service ??= import("./service.js").then((m) => m.createIngestService(deps)));
  return {
    ingest: async (input, staging) => (await load()).ingest(input, staging),
    verifySpeaker: async (input) => (await load()).verifySpeaker(input),
    recordings: async (subjectId) => (await load()).recordings(subjectId),
    derivations: async (filter) => (await load()).derivations(filter),
  };
}
