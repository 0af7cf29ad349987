; An MX GEMM (OCP Microscaling, Blackwell mxf8f6f4.block_scale): A in E4M3 and B in
; E5M2, one UE8M0 scale per 32 values along K (A: per row, B: per column), scales
; applied to each product inside the MAC, fp32 rz (preset mxfp8).
;
; Run it (examples/mx_gemm.py makes the data, runs this, checks the result):
;   python examples/mx_gemm.py
;   fp8emu run examples/mx_gemm.s --in A=a.npy --in B=b.npy --in SA=sa.npy \
;       --in SB=sb.npy --out D=d.npy
;
; Shapes are .params (-D): M, N, K multiples of MT, NT, KT; KT a multiple of 32.
.param M, 256
.param N, 256
.param K, 1024
.param MT, 128
.param NT, 128
.param KT, 256
.equ KB, K / 32

.data
.buffer A,  e4m3,  M, K
.buffer B,  e5m2,  K, N
.buffer SA, ue8m0, M, KB        ; 1x32 blocks of A
.buffer SB, ue8m0, KB, N        ; 32x1 blocks of B
.buffer D,  f32,   M, N

.text
    cfgp mxfp8
    cfg b_format, e5m2
    li x20, K               ; row strides: A, B and SB, SA, D
    li x21, N
    li x22, KB
    li x24, N*4
    li x25, M
    li x26, N
    li x27, K
    li x1, 0                ; i0
    li x4, A                ; &A[i0, 0]
    li x5, SA               ; &SA[i0, 0]
    li x6, D                ; &D[i0, 0]
rows:
    li x2, 0                ; j0
    li x7, B                ; &B[0, j0]
    li x8, SB               ; &SB[0, j0]
    addi x9, x6, 0          ; &D[i0, j0]
cols:
    azero acc0, MT, NT
    li x3, 0                ; k0
    addi x10, x4, 0         ; &A[i0, k0]
    addi x11, x7, 0         ; &B[k0, j0]
    addi x12, x5, 0         ; &SA[i0, k0/32]
    addi x13, x8, 0         ; &SB[k0/32, j0]
ks:
    tld t0, x10, x20, MT, KT
    tld t1, x11, x21, KT, NT
    sld s0, x12, x22, MT, KT/32
    sld s1, x13, x21, KT/32, NT
    mma.bs acc0, t0, t1, s0, s1
    addi x10, x10, KT
    addi x11, x11, KT*N
    addi x12, x12, KT/32
    addi x13, x13, KT/32*N
    addi x3, x3, KT
    blt x3, x27, ks
    ast acc0, x9, x24
    addi x7, x7, NT
    addi x8, x8, NT
    addi x9, x9, NT*4
    addi x2, x2, NT
    blt x2, x26, cols
    addi x4, x4, MT*K
    addi x5, x5, MT*KB
    addi x6, x6, MT*N*4
    addi x1, x1, MT
    blt x1, x25, rows
    halt
