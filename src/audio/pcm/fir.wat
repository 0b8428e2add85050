;; Polyphase FIR kernel for the resampler (src/audio/pcm/resample.ts), WebAssembly SIMD.
;; Compiled by scripts/wasm/build.mjs into fir-wasm.ts; test/audio/wasm-modules.test.ts checks
;; the committed bytes against this source.
;;
;; run: for o in [0, n): out[o] = f32(Σ_k coef[phase·K + k] · buf[x + k]), then
;;      x += stepBase, phase += stepPhase, and when phase ≥ L: phase −= L, x += 1.
;; Offsets are bytes into this module's memory; coef, buf and out hold f32. The dot product runs
;; eight f32 lanes at a time (two f32x4 accumulators, twice the throughput of f64x2), the lanes are
;; summed in f64 and the K mod 8 tail is added in f64. Against the float64 loop of resample.ts the
;; outputs differ by float32 rounding of the coefficients and partial sums: measured within
;; 2.4e-7 of full scale (test/audio/decode/resample.test.ts), about 130 dB below it.
(module
  (memory (export "memory") 1)
  (func (export "run")
    (param $coef i32) (param $K i32) (param $buf i32) (param $out i32) (param $n i32)
    (param $x i32) (param $phase i32) (param $L i32) (param $stepBase i32) (param $stepPhase i32)
    (local $o i32) (local $row i32) (local $xp i32) (local $k i32) (local $K8 i32)
    (local $acc0 v128) (local $acc1 v128) (local $s f64)
    (local.set $K8 (i32.and (local.get $K) (i32.const -8)))
    (block $done
      (loop $outputs
        (br_if $done (i32.ge_u (local.get $o) (local.get $n)))
        (local.set $row
          (i32.add (local.get $coef)
            (i32.shl (i32.mul (local.get $phase) (local.get $K)) (i32.const 2))))
        (local.set $xp (i32.add (local.get $buf) (i32.shl (local.get $x) (i32.const 2))))
        (local.set $acc0 (v128.const f32x4 0 0 0 0))
        (local.set $acc1 (v128.const f32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $vecdone
          (loop $vec
            (br_if $vecdone (i32.ge_u (local.get $k) (local.get $K8)))
            (local.set $acc0
              (f32x4.add (local.get $acc0)
                (f32x4.mul
                  (v128.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2))))
                  (v128.load (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $acc1
              (f32x4.add (local.get $acc1)
                (f32x4.mul
                  (v128.load offset=16 (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2))))
                  (v128.load offset=16 (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 2)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br $vec)))
        (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
        (local.set $s
          (f64.add
            (f64.add
              (f64.promote_f32 (f32x4.extract_lane 0 (local.get $acc0)))
              (f64.promote_f32 (f32x4.extract_lane 1 (local.get $acc0))))
            (f64.add
              (f64.promote_f32 (f32x4.extract_lane 2 (local.get $acc0)))
              (f64.promote_f32 (f32x4.extract_lane 3 (local.get $acc0))))))
        (block $taildone
          (loop $tail
            (br_if $taildone (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $s
              (f64.add (local.get $s)
                (f64.mul
                  (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2)))))
                  (f64.promote_f32 (f32.load (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 2))))))))
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
