; Tiled GEMM: D = A . B with E4M3 operands, 1x128 activation scales (SA) and
; 128x128 weight scales (SB), on the default machine (UE8M0 block 128 applied per
; product, fp32 rne) with scale_b_tile = 128.  D equals emu.gemm on the same data
; bit for bit: each MMA continues acc0's fold over K (KT is a multiple of 128).
;
; Run it (examples/tiled_gemm.py makes the data, runs this, checks the result):
;   python examples/tiled_gemm.py
;   fp8emu run examples/tiled_gemm.s --in A=a.npy --in B=b.npy --in SA=sa.npy \
;       --in SB=sb.npy --out D=d.npy [-D M=64 ...]
;
; Shapes are .params (override with -D): M, N, K multiples of MT, NT, KT; NT and KT
; multiples of 128.  Tiles: A MT x KT, B KT x NT, acc MT x NT (<= 256 x 256 fp32).
; The default tiles are the largest the registers hold: each MMA is one emu.gemm
; call, so 4 MMAs of 256x256x256 run about as fast as one emu.gemm of the whole
; problem (128x128x256 tiles work the same, bit for bit, with 16 slower MMAs).
.param M, 256
.param N, 256
.param K, 1024
.param MT, 256
.param NT, 256
.param KT, 256
.equ KB, K / 128            ; scale blocks along K
.equ NB, N / 128            ; weight-scale tiles along N

.data
.buffer A,  e4m3,  M, K
.buffer B,  e4m3,  K, N
.buffer SA, ue8m0, M, KB
.buffer SB, ue8m0, KB, NB
.buffer D,  f32,   M, N

.text
    cfg scale_b_tile, 128   ; one B scale per 128x128 weight tile
    li x20, K               ; row strides in bytes: A, B, SA, SB, D
    li x21, N
    li x22, KB
    li x23, NB
    li x24, N*4
    li x25, M               ; loop limits
    li x26, N
    li x27, K
    li x1, 0                ; i0
    li x4, A                ; &A[i0, 0]
    li x5, SA               ; &SA[i0, 0]
    li x6, D                ; &D[i0, 0]
rows:
    li x2, 0                ; j0
    li x7, B                ; &B[0, j0]
    li x8, SB               ; &SB[0, j0/128]
    addi x9, x6, 0          ; &D[i0, j0]
cols:
    azero acc0, MT, NT
    li x3, 0                ; k0
    addi x10, x4, 0         ; &A[i0, k0]
    addi x11, x7, 0         ; &B[k0, j0]
    addi x12, x5, 0         ; &SA[i0, k0/128]
    addi x13, x8, 0         ; &SB[k0/128, j0/128]
ks:
    tld t0, x10, x20, MT, KT
    tld t1, x11, x21, KT, NT
    sld s0, x12, x22, MT, KT/128
    sld s1, x13, x23, KT/128, NT/128
    mma.bs acc0, t0, t1, s0, s1
    addi x10, x10, KT
    addi x11, x11, KT*N
    addi x12, x12, KT/128
    addi x13, x13, KT/128*NB
    addi x3, x3, KT
    blt x3, x27, ks
    ast acc0, x9, x24
    addi x7, x7, NT
    addi x8, x8, NT/128
    addi x9, x9, NT*4
    addi x2, x2, NT
    blt x2, x26, cols
    addi x4, x4, MT*K
    addi x5, x5, MT*KB
    addi x6, x6, MT*N*4
    addi x1, x1, MT
    blt x1, x25, rows
    halt
