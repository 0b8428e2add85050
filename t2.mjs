import { decodeAudio } from "./dist/audio/decode/index.js";
import { createReadStream } from "node:fs";
for (const f of process.argv.slice(2)) {
  const t0 = performance.now();
  try {
    const d = await decodeAudio(createReadStream(f));
    let n = 0, sum = 0;
    for await (const c of d.chunks) { n += c[0].length; for (const v of c[0]) sum += v*v; }
    console.log(f, JSON.stringify(d.info), "frames", n, (n / d.info.sampleRate).toFixed(3), "rms", Math.sqrt(sum/n).toFixed(4), (performance.now()-t0).toFixed(0), "ms");
  } catch (e) { console.log(f, "ERR", e.code, e.message); }
}
