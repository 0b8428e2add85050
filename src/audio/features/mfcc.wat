;; MFCC matrix kernel (src/audio/features/mfcc.ts), WebAssembly SIMD.
;; Compiled by scripts/wasm/build.mjs into mfcc-wasm.ts; test/audio/wasm-modules.test.ts checks
;; the committed bytes against this source.
;;
;; apply: for each frame t < frames and row pair p < pairs:
;;   lane r of acc = Σ_n mat[p][n][r] · f64(x[t·N + n])   (n in order, r = 0, 1)
;;   out[t·C + 2p + r] = f32(lane r), for 2p + r < C.
;; mat holds the numCeps × N matrix with rows interleaved in pairs (f64 [row 2p, row 2p+1] per n;
;; an odd last row is paired with zeros). Each lane sums one row in the order of the scalar loop,
;; with a separate multiply and add (WebAssembly never fuses them), so the results equal
;; MfccTransform.apply's bit for bit. Offsets are bytes into this module's memory.
(module
  (memory (export "memory") 1)
  (func (export "apply")
    (param $mat i32) (param $N i32) (param $C i32) (param $x i32) (param $out i32) (param $frames i32)
    (local $t i32) (local $p i32) (local $n i32) (local $row i32) (local $xt i32) (local $ot i32)
    (local $acc v128) (local $c i32)
    (block $framesDone
      (loop $frame
        (br_if $framesDone (i32.ge_u (local.get $t) (local.get $frames)))
        (local.set $xt (i32.add (local.get $x) (i32.shl (i32.mul (local.get $t) (local.get $N)) (i32.const 2))))
        (local.set $ot (i32.add (local.get $out) (i32.shl (i32.mul (local.get $t) (local.get $C)) (i32.const 2))))
        (local.set $p (i32.const 0))
        (block $pairsDone
          (loop $pair
            (local.set $c (i32.shl (local.get $p) (i32.const 1)))
            (br_if $pairsDone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $row (i32.add (local.get $mat) (i32.shl (i32.mul (local.get $p) (local.get $N)) (i32.const 4))))
            (local.set $acc (v128.const f64x2 0 0))
            (local.set $n (i32.const 0))
            (block $binsDone
              (loop $bin
                (br_if $binsDone (i32.ge_u (local.get $n) (local.get $N)))
                (local.set $acc
                  (f64x2.add (local.get $acc)
                    (f64x2.mul
                      (v128.load (i32.add (local.get $row) (i32.shl (local.get $n) (i32.const 4))))
                      (f64x2.splat
                        (f64.promote_f32
                          (f32.load (i32.add (local.get $xt) (i32.shl (local.get $n) (i32.const 2)))))))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br $bin)))
            (f32.store
              (i32.add (local.get $ot) (i32.shl (local.get $c) (i32.const 2)))
              (f32.demote_f64 (f64x2.extract_lane 0 (local.get $acc))))
            (if (i32.lt_u (i32.add (local.get $c) (i32.const 1)) (local.get $C))
              (then
                (f32.store offset=4
                  (i32.add (local.get $ot) (i32.shl (local.get $c) (i32.const 2)))
                  (f32.demote_f64 (f64x2.extract_lane 1 (local.get $acc))))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pair)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $frame)))))
