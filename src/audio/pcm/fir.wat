;; Polyphase FIR kernel for the resampler (src/audio/pcm/resample.ts), WebAssembly SIMD.
;; Compiled by scripts/wasm/build.mjs into fir-wasm.ts; test/audio/decode/fir-wasm.test.ts
;; checks the committed bytes against this source.
;;
;; run: for o in [0, n): out[o] = f32(Σ_k coef[phase·K + k] · buf[x + k]), then
;;      x += stepBase, phase += stepPhase, and when phase ≥ L: phase −= L, x += 1.
;; Offsets are bytes into this module's memory; coef and buf hold f64, out f32. The dot product
;; runs four f64 lanes at a time (two f64x2 accumulators), the K mod 4 tail in scalar f64.
(module
  (memory (export "memory") 1)
  (func (export "run")
    (param $coef i32) (param $K i32) (param $buf i32) (param $out i32) (param $n i32)
    (param $x i32) (param $phase i32) (param $L i32) (param $stepBase i32) (param $stepPhase i32)
    (local $o i32) (local $row i32) (local $xp i32) (local $k i32) (local $K4 i32)
    (local $acc0 v128) (local $acc1 v128) (local $s f64)
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (block $done
      (loop $outputs
        (br_if $done (i32.ge_u (local.get $o) (local.get $n)))
        (local.set $row
          (i32.add (local.get $coef)
            (i32.shl (i32.mul (local.get $phase) (local.get $K)) (i32.const 3))))
        (local.set $xp (i32.add (local.get $buf) (i32.shl (local.get $x) (i32.const 3))))
        (local.set $acc0 (v128.const f64x2 0 0))
        (local.set $acc1 (v128.const f64x2 0 0))
        (local.set $k (i32.const 0))
        (block $vecdone
          (loop $vec
            (br_if $vecdone (i32.ge_u (local.get $k) (local.get $K4)))
            (local.set $acc0
              (f64x2.add (local.get $acc0)
                (f64x2.mul
                  (v128.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 3))))
                  (v128.load (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 3)))))))
            (local.set $acc1
              (f64x2.add (local.get $acc1)
                (f64x2.mul
                  (v128.load offset=16 (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 3))))
                  (v128.load offset=16 (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 3)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $vec)))
        (local.set $acc0 (f64x2.add (local.get $acc0) (local.get $acc1)))
        (local.set $s
          (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))
        (block $taildone
          (loop $tail
            (br_if $taildone (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $s
              (f64.add (local.get $s)
                (f64.mul
                  (f64.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 3))))
                  (f64.load (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 3)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $tail)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $o) (i32.const 2)))
          (f32.demote_f64 (local.get $s)))
        (local.set $x (i32.add (local.get $x) (local.get $stepBase)))
        (local.set $phase (i32.add (local.get $phase) (local.get $stepPhase)))
        (if (i32.ge_u (local.get $phase) (local.get $L))
          (then
            (local.set $phase (i32.sub (local.get $phase) (local.get $L)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $outputs)))))
