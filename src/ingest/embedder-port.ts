/** What the ingest pipeline needs from a speaker embedder: src/embed's interface. */
export type { Embedder as EmbedderPort, EmbeddingSession } from "../embed/types.js";
