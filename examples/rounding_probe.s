; Rounding probes: the self-checks of spec section 4, run on the tensor core.
; Each probe is one dot product D = C + A.B with K = 2 (A 1x2, B 2x1, C 1x1; a zero
; product is dropped, spec 2.1 step 3) under a preset; the result goes to R[i] and
; is compared with the spec's number.  The program halts with status 1 at the first
; mismatch, else 0.
;
; Run it:
;   python examples/rounding_probe.py            (runs this, prints and checks R)
;   fp8emu run examples/rounding_probe.s --out R=r.npy [--trace]
.data
; probe 0/1: c = 1, one product 1.5*2^-7 x 2^-7 (= 3*2^-15)
A01:  .e4m3 0x1.8p-7, 0
B01:  .e4m3 0x1p-7, 0
C01:  .float 1
; probe 2: c = 0, products 1*1 and -(1.5*2^-7 x 2^-7): truncation is toward zero
A2:   .e4m3 1, -0x1.8p-7
B2:   .e4m3 1, 0x1p-7
C2:   .float 0
; probe 3: c = 3*2^-14, product 1*1: c itself is cut to the 2^-13 quantum
A3:   .e4m3 1, 0
B3:   .e4m3 1, 0
C3:   .float 3 * 2**-14
; probe 4/5: c = 0, products 1*1 and 2^-7 x 2^-7 (= 2^-14): alignment to the
; largest term drops the small one on h100, a chain of fp32 FMAs keeps it
A45:  .e4m3 1, 0x1p-7
B45:  .e4m3 1, 0x1p-7
C45:  .float 0

WANT: .float 1.0              ; 0: h100,     c=1, 3*2^-15      -> 1.0
      .float 1 + 3 * 2**-15   ; 1: exact,    same             -> 1 + 3*2^-15
      .float 1.0              ; 2: h100,     1 - 3*2^-15      -> 1.0
      .float 1 + 2**-13       ; 3: h100,     3*2^-14 + 1      -> 1 + 2^-13
      .float 1.0              ; 4: h100,     1 + 2^-14        -> 1.0
      .float 1 + 2**-14       ; 5: fp32-seq, 1 + 2^-14        -> 1 + 2^-14
.buffer R, f32, 6             ; the results

.text
    cfgp h100
    li x10, A01
    li x11, B01
    li x12, C01
    li x13, R
    li x14, WANT
    jal x31, probe
    cfgp exact
    jal x31, probe              ; same operands, next result slot
    cfgp h100
    li x10, A2
    li x11, B2
    li x12, C2
    jal x31, probe
    li x10, A3
    li x11, B3
    li x12, C3
    jal x31, probe
    li x10, A45
    li x11, B45
    li x12, C45
    jal x31, probe
    cfgp fp32-seq
    jal x31, probe
    halt

; probe: A at x10, B at x11, C at x12; result to [x13], compared with [x14];
; then x13 and x14 advance by 4.  Returns through x31.
probe:
    li x15, 1
    tld t0, x10, x0, 1, 2       ; A: 1x2
    tld t1, x11, x15, 2, 1      ; B: 2x1 (row stride 1 byte)
    ald acc0, x12, x0, 1, 1     ; C: 1x1
    mma acc0, t0, t1
    ast acc0, x13, x0
    lw x16, x13, 0              ; compare the fp32 bit patterns
    lw x17, x14, 0
    bne x16, x17, mismatch
    addi x13, x13, 4
    addi x14, x14, 4
    jr x31
mismatch:
    halt 1
