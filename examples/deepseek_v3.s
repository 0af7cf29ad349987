; The DeepSeek-V3 FP8 GEMM recipe on the machine:
;   1. quantise fp32 activations X per 1x128 block to E4M3 with `ceil` UE8M0 scales
;      (DeepGEMM per_token_cast_to_fp8 + ceil_to_ue8m0), tile by tile, in registers;
;   2. D = Xq . W with 128x128 weight scales SW, h100 numerics inside a 128-long K
;      interval, promotion to fp32 every 128 with the scales applied there
;      (preset deepseek-v3).
; The quantised activations are also stored (XQ, SX) so they can be checked.
;
; Run it (examples/deepseek_v3.py makes the data, runs this, checks everything):
;   python examples/deepseek_v3.py
;   fp8emu run examples/deepseek_v3.s --in X=x.npy --in W=w.npy --in SW=sw.npy \
;       --out D=d.npy --out XQ=xq.npy --out SX=sx.npy
;
; Shapes are .params (-D): M, N, K multiples of MT, NT, KT; NT and KT multiples of
; 128; KT <= 256 (an fp32 tile row of X holds at most 1024 bytes).
.param M, 256
.param N, 256
.param K, 1024
.param MT, 128
.param NT, 128
.param KT, 256
.equ KB, K / 128
.equ NB, N / 128

.data
.buffer X,  f32,   M, K         ; activations (input)
.buffer W,  e4m3,  K, N         ; weights (input, pre-quantised)
.buffer SW, ue8m0, KB, NB       ; weight scales, one per 128x128 tile (input)
.buffer XQ, e4m3,  M, K         ; quantised activations (output)
.buffer SX, ue8m0, M, KB        ; their 1x128 scales (output)
.buffer D,  f32,   M, N         ; result (output)

.text
    cfgp deepseek-v3
    li x20, K*4             ; row strides: X, W, SX/SW, XQ, D
    li x21, N
    li x22, KB
    li x23, NB
    li x24, N*4
    li x19, K
    li x25, M
    li x26, N
    li x27, K
    li x1, 0                ; i0
    li x4, X                ; &X[i0, 0]
    li x5, SX               ; &SX[i0, 0]
    li x6, D                ; &D[i0, 0]
    li x14, XQ              ; &XQ[i0, 0]
rows:
    li x2, 0                ; j0
    li x7, W                ; &W[0, j0]
    li x8, SW               ; &SW[0, j0/128]
    addi x9, x6, 0          ; &D[i0, j0]
cols:
    azero acc0, MT, NT
    li x3, 0                ; k0
    addi x10, x4, 0         ; &X[i0, k0]
    addi x11, x7, 0         ; &W[k0, j0]
    addi x12, x5, 0         ; &SX[i0, k0/128]
    addi x13, x8, 0         ; &SW[k0/128, j0/128]
    addi x15, x14, 0        ; &XQ[i0, k0]
ks:
    ald acc1, x10, x20, MT, KT
    quant.e4m3.ceil t0, s0, acc1, 1, 128
    tst t0, x15, x19
    sst s0, x12, x22
    tld t1, x11, x21, KT, NT
    sld s1, x13, x23, KT/128, NT/128
    mma.bs acc0, t0, t1, s0, s1
    addi x10, x10, KT*4
    addi x11, x11, KT*N
    addi x12, x12, KT/128
    addi x13, x13, KT/128*NB
    addi x15, x15, KT
    addi x3, x3, KT
    blt x3, x27, ks
    ast acc0, x9, x24
    addi x7, x7, NT
    addi x8, x8, NT/128
    addi x9, x9, NT*4
    addi x2, x2, NT
    blt x2, x26, cols
    addi x4, x4, MT*K*4
    addi x5, x5, MT*KB
    addi x6, x6, MT*N*4
    addi x14, x14, MT*K
    addi x1, x1, MT
    blt x1, x25, rows
    halt
