// fp8_dot4: a 4-lane FP8 dot-product unit with UE8M0 block scales and an exact
// (Kulisch-style) fixed-point accumulation, rounded once into fp32 (or fp16).
//
//   d = round( c + 2^(sa-127) * 2^(sb-127) * sum_{k=0..3} a[k] * b[k] )
//
// written for fp8emu as an example of an RTL design checked bit for bit against the
// emulator.  It equals this fp8emu configuration (examples/rtl/README.md):
//
//   emu.preset("exact").replace(scale_block=4, a_format=..., b_format=...)
//   (fused = "k", align_bits = "exact", acc_format = "fp32", acc_round = "rne",
//    acc_subnormals = true, scale_apply = "product"; ACC16 = 1: acc_format = "fp16")
//
// on a K = 4 dot product: one UE8M0 scale code per operand covers the 4 lanes.
//
// Datapath (docs/numerics.md section 2.1, 2.2, 2.3):
//   1. decode every lane: E4M3 (bias 7, 3 fraction bits, NaN S.1111.111, no Inf) or
//      E5M2 (bias 15, 2 fraction bits, Inf S.11111.00, NaN S.11111.xx), selected per
//      operand by a_e5m2 / b_e5m2; significand m (hidden bit unless subnormal) and the
//      exponent of its last bit, e = max(E, 1) - bias - M;
//   2. products exact: m_a * m_b (8 bits) at exponent e_a + e_b + (sa-127) + (sb-127);
//   3. C (fp32) exact: m_c (24 bits) at exponent max(E_c, 1) - 150;
//   4. every term shifted to its place in one W-bit two's-complement fixed-point
//      number whose last bit weighs 2^-OFF (OFF = 286, the weight of the last bit of
//      the smallest E5M2 x E5M2 product under the smallest scales) and added: nothing
//      is dropped, so the sum is the exact value;
//   5. one rounding to nearest, ties to even, into fp32 (subnormals kept, overflow
//      to Inf; ACC16 = 1: into fp16, the value then widened into the fp32 output);
//   6. specials: a NaN operand, a NaN scale (0xFF) or a NaN C give the canonical NaN
//      0x7FFFFFFF; Inf x 0 and +Inf + -Inf give NaN; otherwise an Inf product or C
//      gives that Inf; zero results: all terms zero gives -0 iff C and every product
//      are -0, otherwise a sum that is exactly zero gives +0, and a non-zero sum
//      that rounds to zero keeps its sign.
//
// One clock of latency: d and out_valid are registered; out_valid follows in_valid.
//
// FAULT plants a bug for the bench to catch: 0 = none; 1 = the rounding ignores the
// sticky bit (the bits below the guard bit), so values just above a tie round to
// even as if they were ties.
//
// Verilog-2005; Icarus Verilog 11 (iverilog -g2005) and Verilator accept it.

`default_nettype none

module fp8_dot4 #(
    parameter FAULT = 0,
    parameter ACC16 = 0
) (
    input  wire        clk,
    input  wire        rst_n,      // synchronous, active low: clears out_valid
    input  wire        in_valid,
    input  wire        a_e5m2,     // 0: the A lanes are E4M3, 1: E5M2
    input  wire        b_e5m2,     // likewise for B
    input  wire [31:0] a,          // lane k in bits [8k+7:8k] (as fp8emu's a.hex)
    input  wire [31:0] b,
    input  wire [7:0]  sa,         // UE8M0 scale code of the 4 A lanes (0xFF = NaN)
    input  wire [7:0]  sb,         // UE8M0 scale code of the 4 B lanes
    input  wire [31:0] c,          // fp32 accumulator input
    output reg         out_valid,
    output reg  [31:0] d           // fp32 result (ACC16: an fp16 value in fp32)
);

    // ---------------------------------------------------------------- sizes
    // Fixed point: bit i weighs 2^(i - OFF).  The last bit of the smallest term is
    // 2^-286 (E5M2 subnormal x subnormal: 2^-16 * 2^-16, times 2^-127 * 2^-127).
    // The largest product is below 2^(26 + 254 + 6) = 2^286 (E5M2 57344^2 = 49 *
    // 2^26, times 2^254), i.e. below bit 572; four of them and C (< 2^128) stay
    // below bit 574, so 575 bits and a sign bit hold every sum exactly.
    localparam integer OFF = 286;
    localparam integer W = 576;
    // The result format: fp32 (M = 23, emin = -126, emax = 127) or fp16.
    localparam integer RM = (ACC16 != 0) ? 10 : 23;
    localparam integer REMIN = (ACC16 != 0) ? -14 : -126;
    localparam integer REMAX = (ACC16 != 0) ? 15 : 127;

    // ---------------------------------------------------------------- 1.-2. lanes
    // Places are unsigned: a lane's last significand bit sits at exponent
    // pa - 16 (pa = max(E, 1) + 6 for E4M3, max(E, 1) - 1 for E5M2), so a product's
    // last bit sits at pa + pb - 32 + (sa - 127) + (sb - 127) = pa + pb + sa + sb - OFF:
    // its place in the fixed point is pa + pb + sa + sb (0 ... 566 for finite codes).
    wire [4*W-1:0] lane_term;          // the 4 signed terms, lane k in [W*k +: W]
    wire [3:0]     lane_nan, lane_pinf, lane_ninf, lane_zero, lane_neg;

    genvar g;
    generate
        for (g = 0; g < 4; g = g + 1) begin : lane
            wire [7:0] ca = a[8*g +: 8];
            wire [7:0] cb = b[8*g +: 8];
            // exponent fields all zero (subnormal or zero) / all ones (Inf, NaN)
            wire       a_e0 = a_e5m2 ? (ca[6:2] == 5'h00) : (ca[6:3] == 4'h0);
            wire       b_e0 = b_e5m2 ? (cb[6:2] == 5'h00) : (cb[6:3] == 4'h0);
            wire       a_e1 = a_e5m2 ? (ca[6:2] == 5'h1F) : (ca[6:3] == 4'hF);
            wire       b_e1 = b_e5m2 ? (cb[6:2] == 5'h1F) : (cb[6:3] == 4'hF);
            // E4M3: only S.1111.111 is NaN, no Inf; E5M2: S.11111.00 Inf, else NaN
            wire       a_nan = a_e1 & (a_e5m2 ? (ca[1:0] != 2'd0) : (ca[2:0] == 3'd7));
            wire       b_nan = b_e1 & (b_e5m2 ? (cb[1:0] != 2'd0) : (cb[2:0] == 3'd7));
            wire       a_inf = a_e5m2 & a_e1 & (ca[1:0] == 2'd0);
            wire       b_inf = b_e5m2 & b_e1 & (cb[1:0] == 2'd0);
            // integer significands (hidden bit unless subnormal)
            wire [3:0] ma = a_e5m2 ? {1'b0, ~a_e0, ca[1:0]} : {~a_e0, ca[2:0]};
            wire [3:0] mb = b_e5m2 ? {1'b0, ~b_e0, cb[1:0]} : {~b_e0, cb[2:0]};
            wire [4:0] ea = a_e0 ? 5'd1 : (a_e5m2 ? {ca[6:2]} : {1'b0, ca[6:3]});
            wire [4:0] eb = b_e0 ? 5'd1 : (b_e5m2 ? {cb[6:2]} : {1'b0, cb[6:3]});
            wire [4:0] pa = a_e5m2 ? ea - 5'd1 : ea + 5'd6;
            wire [4:0] pb = b_e5m2 ? eb - 5'd1 : eb + 5'd6;
            wire [9:0] pos = {5'd0, pa} + {5'd0, pb} + {2'd0, sa} + {2'd0, sb};
            wire [7:0] mp = ma * mb;                     // exact product significand
            wire       sp = ca[7] ^ cb[7];
            wire       fin = ~(a_nan | b_nan | a_inf | b_inf);
            wire [W-1:0] mag = fin ? ({{(W-8){1'b0}}, mp} << pos) : {W{1'b0}};
            assign lane_term[W*g +: W] = sp ? -mag : mag;
            assign lane_nan[g] = a_nan | b_nan
                               | (a_inf & ~b_inf & (mb == 4'd0))   // Inf x 0
                               | (b_inf & ~a_inf & (ma == 4'd0));
            assign lane_pinf[g] = (a_inf | b_inf) & ~sp;
            assign lane_ninf[g] = (a_inf | b_inf) & sp;
            assign lane_zero[g] = fin & (mp == 8'd0);
            assign lane_neg[g] = sp;
        end
    endgenerate

    // ---------------------------------------------------------------- 3. C
    // fp32: last bit at max(E, 1) - 150, i.e. at place max(E, 1) + 136 (137 ... 390).
    wire        c_e1 = (c[30:23] == 8'hFF);
    wire        c_nan = c_e1 & (c[22:0] != 23'd0);
    wire        c_inf = c_e1 & (c[22:0] == 23'd0);
    wire        c_zero = (c[30:0] == 31'd0);
    wire [23:0] mc = {(c[30:23] != 8'd0), c[22:0]};
    wire [9:0]  c_pos = ((c[30:23] == 8'd0) ? 10'd1 : {2'd0, c[30:23]}) + 10'd136;
    wire [W-1:0] c_mag = c_e1 ? {W{1'b0}} : ({{(W-24){1'b0}}, mc} << c_pos);
    wire [W-1:0] c_term = c[31] ? -c_mag : c_mag;

    // ---------------------------------------------------------------- 4. the exact sum
    wire [W-1:0] acc = c_term + lane_term[0 +: W] + lane_term[W +: W]
                     + lane_term[2*W +: W] + lane_term[3*W +: W];

    // Specials and zeros (section 2.2, 2.1 step 6).
    wire pos_inf = (|lane_pinf) | (c_inf & ~c[31]);
    wire neg_inf = (|lane_ninf) | (c_inf & c[31]);
    wire any_nan = (sa == 8'hFF) | (sb == 8'hFF) | c_nan | (|lane_nan) | (pos_inf & neg_inf);
    wire all_zero = (&lane_zero) & c_zero;            // no term at all
    wire all_neg_zero = (&lane_neg) & c[31];          // ... and every one of them -0

    // ---------------------------------------------------------------- 5. one rounding
    // To nearest, ties to even, into the result format (RM fraction bits, exponents
    // REMIN ... REMAX), then packed as fp32.
    reg [31:0]  d_next;
    reg         sgn, guard, sticky, up, ovf;
    reg [W-1:0] mag, mask;
    reg [24:0]  kept, r;
    integer     i, p, u, q, l, ex;

    always @* begin
        sgn = acc[W-1];
        mag = sgn ? -acc : acc;
        p = 0;
        for (i = 0; i < W; i = i + 1)
            if (mag[i]) p = i;                      // the leading one
        u = ((p - OFF) > REMIN ? (p - OFF) : REMIN) - RM;   // exponent of the result's ulp
        q = u + OFF;                                // its place (137 ... 573)
        kept = 25'd0;                               // mag >> q: at most RM + 1 bits
        for (i = 0; i <= RM; i = i + 1)
            kept[i] = mag[q + i];
        guard = mag[q - 1];
        mask = {W{1'b1}} >> (W - q + 1);            // bits [q-2:0]
        sticky = |(mag & mask);
        if (FAULT == 1) sticky = 1'b0;              // the planted bug
        up = guard & (sticky | kept[0]);
        r = kept + {24'd0, up};
        if (r[RM+1]) begin                          // carried into the next binade
            r = r >> 1;
            u = u + 1;
        end
        ovf = (u + RM) > REMAX;

        // r * 2^u (r < 2^(RM+1)) as fp32: leading one l, exponent u + l.
        l = 0;
        for (i = 0; i <= RM; i = i + 1)
            if (r[i]) l = i;
        ex = u + l;

        if (any_nan)
            d_next = 32'h7FFF_FFFF;                 // the canonical NaN
        else if (pos_inf | neg_inf)
            d_next = {neg_inf, 8'hFF, 23'd0};
        else if (all_zero)
            d_next = {all_neg_zero, 31'd0};
        else if (mag == {W{1'b0}})
            d_next = 32'h0000_0000;                 // exact cancellation: +0 (rne)
        else if (ovf)
            d_next = {sgn, 8'hFF, 23'd0};           // overflow: Inf
        else if (r == 25'd0)
            d_next = {sgn, 31'd0};                  // rounded to zero: keeps its sign
        else if (ex >= -126)                        // normal fp32: drop the leading one
            d_next = {sgn, ex[7:0] + 8'd127, r[22:0] << (23 - l)};
        else                                        // fp32 subnormal (fp32 results only)
            d_next = {sgn, 8'd0, r[22:0] << (u + 149)};
    end

    // ---------------------------------------------------------------- register
    always @(posedge clk) begin
        if (!rst_n) begin
            out_valid <= 1'b0;
            d <= 32'd0;
        end else begin
            out_valid <= in_valid;
            if (in_valid) d <= d_next;
        end
    end

endmodule

`default_nettype wire
