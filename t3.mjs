import { decodeToMono16k } from "./dist/audio/decode/index.js";
import { createReadStream } from "node:fs";
async function pcm(f, o={}){ const d = await decodeToMono16k(createReadStream(f), o); const parts=[]; for await (const c of d.pcm) parts.push(c); const n=parts.reduce((a,p)=>a+p.length,0); const x=new Float32Array(n); let k=0; for(const p of parts){x.set(p,k);k+=p.length;} return x; }
const ref = await pcm(process.argv[2]);
for (const f of process.argv.slice(3)) {
  const x = await pcm(f);
  let best=-Infinity, bl=0;
  for (let lag=-3000; lag<=3000; lag+=1){ let s=0; for(let i=8000;i<Math.min(40000, ref.length-3000);i++){ s+=ref[i]*(x[i+lag]??0);} if(s>best){best=s;bl=lag;} }
  let e=0,p=0; for(let i=8000;i<ref.length-3000;i++){ const d=ref[i]-(x[i+bl]??0); e+=d*d; p+=ref[i]*ref[i]; }
  console.log(f, "lag", bl, "SNR dB", (10*Math.log10(p/e)).toFixed(1), "len", x.length, ref.length);
}
const a = await pcm("/tmp/m/two.m4a", {audioTrack: 1}); console.log("track2 len", a.length/16000);
