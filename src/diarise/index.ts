/** Speaker diarisation inside the abstraction pass (browser-safe). See docs/diarisation.md. */
export { DiarisationStream, HOP_FRAMES, WINDOW_HOPS, type DiarisationFrames } from "./stream.js";
export {
  diarise,
  DEFAULT_MAX_DISTANCE,
  DEFAULT_MERGE_DISTANCE,
  DEFAULT_MIN_SPEAKER_SEC,
  type Diarisation,
  type Piece,
  type DiariseOptions,
  type Segment,
  type Speaker,
} from "./diarise.js";
