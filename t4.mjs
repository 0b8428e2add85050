import { ByteReader } from "./dist/audio/pcm/byte-reader.js";
import { WebmDemuxer } from "./dist/audio/pcm/webm.js";
import { createReadStream } from "node:fs";
const r = new ByteReader(createReadStream(process.argv[2]), 1e12);
const d = new WebmDemuxer(r);
const h = await d.readHeader(); console.log(h.info);
let n=0, b=0; for await (const p of d.packets()) { n++; b+=p.frame.length; } console.log(n, b);
