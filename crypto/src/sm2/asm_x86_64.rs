//! SM2 field arithmetic in x86-64 assembly (Montgomery multiplication and squaring,
//! addition and subtraction): the one module of `crypto/src/sm2` allowed `unsafe` (ADR 0033).
//!
//! Same contract as [`super::montgomery`] and fiat-crypto's `fiat_sm2_mul`/`fiat_sm2_square`:
//! four little-endian limbs, inputs in `[0, p)`, output `a·b·2⁻²⁵⁶ mod p` in `[0, p)`, with
//! `p = 2²⁵⁶ − 2²²⁴ − 2⁹⁶ + 2⁶⁴ − 1`. The tests compare all three.
//!
//! Shape (both variants): the 512-bit product `t = t_hi·2²⁵⁶ + t_lo` first, then the
//! Montgomery reduction of the *low half only*, `u = (t_lo + M·p)/2²⁵⁶ ≤ p`, and finally
//! `t_hi + u < 2p`, one conditional subtraction of `p`. Because `−p⁻¹ mod 2⁶⁴ = 1`, each of
//! the four reduction steps takes `m` = the current low limb and adds
//! `m·(p + 1)/2⁶⁴ = m·(2¹⁹² − 2¹⁶⁰ − 2³² + 1)` = `[m, 0, 0, m] − [m≪32, m≫32, m≪32, m≫32]`
//! to the next limbs, shifts and add/subtract-with-carry only, in a four-register window (the
//! freed low limb becomes the new top one: the window never exceeds 256 bits). The reduction
//! of the low half depends only on the low product limbs, so the out-of-order core runs it
//! while the high limbs of the product are still being summed; the Rust path reduces all
//! eight limbs serially, which is where its latency went (ADR 0008 §6).
//!
//! * [`mul_mulx`]/[`sqr_mulx`]: `MULX` (BMI2) with two independent carry chains
//!   (`ADCX`/`ADOX`, ADX); only sound on a CPU that has both, so they are called only after
//!   [`has_bmi2_adx`] said yes.
//! * [`mul_base`]/[`sqr_base`]: plain `MUL`/`ADC` (product scanning), every x86-64.
//!
//! [`mul`]/[`square`], what the field type calls, take the MULX variant when the CPU has
//! BMI2 and ADX (about 10% faster point multiplications here than the baseline, which in
//! turn is about 30% faster than the Rust path) and the baseline otherwise, out of line and
//! marked cold so that the inlined fast path stays small.
//!
//! [`add`]/[`sub`] (plain instructions, every x86-64) replace fiat-crypto's, which compile to
//! byte-wise carry juggling (`setb`/`movzx`/`neg`) and were about as many instructions per
//! point doubling as the multiplications.
//!
//! Constant time: no branch, no memory address depends on the values (the only memory
//! accesses are the eight input limbs at fixed offsets); the final choice between `t − p`
//! and `t` is `CMOVC` on the borrow.
//!
//! Why `unsafe`: inline assembly is `unsafe` to write. Each block reads exactly the 32 bytes
//! behind its `&[u64; 4]` arguments (in bounds by type), writes only its declared output
//! registers and flags (`pure`, `readonly`, `nostack`), and the MULX/ADX blocks are reached
//! only behind the run-time feature check.
#![allow(unsafe_code)]

use core::arch::asm;

pub(crate) type Limbs = [u64; 4];

/// One reduction step on the window `m, r1, r2, r3` (low to high) with two scratch
/// registers: adds `m·(p + 1)/2⁶⁴` to `r1..r3, 0` and leaves the new top limb in `m`'s
/// register. No carry leaves the window: its value stays below `2²⁵⁶` (see the module
/// comment), and the intermediate wrap between the add and the subtract cancels mod `2²⁵⁶`.
macro_rules! reduce_step {
    ($m:literal, $r1:literal, $r2:literal, $r3:literal, $lo:literal, $hi:literal) => {
        concat!(
            "mov {", $lo, "}, {", $m, "}\n", "shl {", $lo, "}, 32\n", "mov {", $hi, "}, {", $m,
            "}\n", "shr {", $hi, "}, 32\n", "add {", $r1, "}, {", $m, "}\n", "adc {", $r2,
            "}, 0\n", "adc {", $r3, "}, 0\n", "adc {", $m, "}, 0\n", "sub {", $r1, "}, {", $lo,
            "}\n", "sbb {", $r2, "}, {", $hi, "}\n", "sbb {", $r3, "}, {", $lo, "}\n", "sbb {", $m,
            "}, {", $hi, "}\n",
        )
    };
}

/// The four reduction steps on `t0..t3`; the result `u` ends in `t0..t3` (low to high).
macro_rules! reduce_low_half {
    ($lo:literal, $hi:literal) => {
        concat!(
            reduce_step!("t0", "t1", "t2", "t3", $lo, $hi),
            reduce_step!("t1", "t2", "t3", "t0", $lo, $hi),
            reduce_step!("t2", "t3", "t0", "t1", $lo, $hi),
            reduce_step!("t3", "t0", "t1", "t2", $lo, $hi),
        )
    };
}

/// `t4..t7 ← (t0..t3 + t4..t7) mod p` for a sum below `2p`: add with the carry in `c`, then
/// `t − p` and keep `t` by `CMOVC` when that borrowed. `k1`, `k3` hold the two limbs of `p`
/// that are no sign-extended immediate; `p₀ = p₂ = −1` are.
macro_rules! add_high_and_finish {
    ($c:literal, $k1:literal, $k3:literal) => {
        concat!(
            "mov {",
            $c,
            "}, 0\n",
            "mov {",
            $k1,
            "}, 0xffffffff00000000\n",
            "mov {",
            $k3,
            "}, 0xfffffffeffffffff\n",
            "add {t0}, {t4}\n",
            "adc {t1}, {t5}\n",
            "adc {t2}, {t6}\n",
            "adc {t3}, {t7}\n",
            "adc {",
            $c,
            "}, 0\n",
            "mov {t4}, {t0}\n",
            "sub {t4}, -1\n",
            "mov {t5}, {t1}\n",
            "sbb {t5}, {",
            $k1,
            "}\n",
            "mov {t6}, {t2}\n",
            "sbb {t6}, -1\n",
            "mov {t7}, {t3}\n",
            "sbb {t7}, {",
            $k3,
            "}\n",
            "sbb {",
            $c,
            "}, 0\n",
            "cmovc {t4}, {t0}\n",
            "cmovc {t5}, {t1}\n",
            "cmovc {t6}, {t2}\n",
            "cmovc {t7}, {t3}\n",
        )
    };
}

/// Whether this CPU has BMI2 (`MULX`) and ADX (`ADCX`/`ADOX`). `std` caches the CPUID
/// answer, so this is a load and a test.
#[inline(always)]
pub(crate) fn has_bmi2_adx() -> bool {
    std::arch::is_x86_feature_detected!("bmi2") && std::arch::is_x86_feature_detected!("adx")
}

/// `a·b·2⁻²⁵⁶ mod p` for `a, b < p`: what [`super::field::Fe`] multiplies with on x86-64.
#[inline(always)]
pub(crate) fn mul(a: &Limbs, b: &Limbs) -> Limbs {
    if has_bmi2_adx() {
        // SAFETY: just checked.
        unsafe { mul_mulx(a, b) }
    } else {
        mul_base_cold(a, b)
    }
}

#[cold]
#[inline(never)]
fn mul_base_cold(a: &Limbs, b: &Limbs) -> Limbs {
    mul_base(a, b)
}

#[cold]
#[inline(never)]
fn sqr_base_cold(a: &Limbs) -> Limbs {
    sqr_base(a)
}

/// `a²·2⁻²⁵⁶ mod p` for `a < p`.
#[inline(always)]
pub(crate) fn square(a: &Limbs) -> Limbs {
    if has_bmi2_adx() {
        // SAFETY: just checked.
        unsafe { sqr_mulx(a) }
    } else {
        sqr_base_cold(a)
    }
}

/// `a + b mod p` for `a, b < p` (any x86-64): the sum, `sum − p`, and `CMOVNC` keeps the
/// difference unless it borrowed.
#[inline(always)]
pub(crate) fn add(a: &Limbs, b: &Limbs) -> Limbs {
    let [mut r0, mut r1, mut r2, mut r3] = *a;
    // SAFETY: reads the 4 limbs behind `b` (valid, in bounds by type); touches only the
    // declared registers and flags; no stack, no memory writes.
    unsafe {
        asm!(
            "xor {c:e}, {c:e}",
            "add {r0}, [{b}]",
            "adc {r1}, [{b} + 8]",
            "adc {r2}, [{b} + 16]",
            "adc {r3}, [{b} + 24]",
            "adc {c}, 0",
            "mov {s0}, {r0}",
            "sub {s0}, -1",
            "mov {s1}, {r1}",
            "mov {k}, 0xffffffff00000000",
            "sbb {s1}, {k}",
            "mov {s2}, {r2}",
            "sbb {s2}, -1",
            "mov {s3}, {r3}",
            "mov {k}, 0xfffffffeffffffff",
            "sbb {s3}, {k}",
            "sbb {c}, 0",
            "cmovnc {r0}, {s0}",
            "cmovnc {r1}, {s1}",
            "cmovnc {r2}, {s2}",
            "cmovnc {r3}, {s3}",
            b = in(reg) b.as_ptr(),
            r0 = inout(reg) r0,
            r1 = inout(reg) r1,
            r2 = inout(reg) r2,
            r3 = inout(reg) r3,
            c = out(reg) _,
            k = out(reg) _,
            s0 = out(reg) _,
            s1 = out(reg) _,
            s2 = out(reg) _,
            s3 = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// `a − b mod p` for `a, b < p` (any x86-64): the difference, plus `p` masked by the
/// borrow (`p₁ = mask≪32`, `p₃ = mask` with bit 32 cleared).
#[inline(always)]
pub(crate) fn sub(a: &Limbs, b: &Limbs) -> Limbs {
    let [mut r0, mut r1, mut r2, mut r3] = *a;
    // SAFETY: as in `add`.
    unsafe {
        asm!(
            "sub {r0}, [{b}]",
            "sbb {r1}, [{b} + 8]",
            "sbb {r2}, [{b} + 16]",
            "sbb {r3}, [{b} + 24]",
            "sbb {m}, {m}",
            "mov {k1}, {m}",
            "shl {k1}, 32",
            "mov {k3}, {m}",
            "btr {k3}, 32",
            "add {r0}, {m}",
            "adc {r1}, {k1}",
            "adc {r2}, {m}",
            "adc {r3}, {k3}",
            b = in(reg) b.as_ptr(),
            r0 = inout(reg) r0,
            r1 = inout(reg) r1,
            r2 = inout(reg) r2,
            r3 = inout(reg) r3,
            m = out(reg) _,
            k1 = out(reg) _,
            k3 = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// `a·b·2⁻²⁵⁶ mod p` with `MUL`/`ADC` (any x86-64).
#[inline(always)]
pub(crate) fn mul_base(a: &Limbs, b: &Limbs) -> Limbs {
    let (r0, r1, r2, r3);
    // SAFETY: reads the 4 limbs behind `a` and `b` (valid, in bounds by type); touches only
    // the declared registers and flags; no stack, no memory writes.
    unsafe {
        asm!(
            // Product by columns (t_k, t_k+1, t_k+2 accumulate column k).
            "xor {t2:e}, {t2:e}",
            "xor {t3:e}, {t3:e}",
            "xor {t4:e}, {t4:e}",
            "xor {t5:e}, {t5:e}",
            "xor {t6:e}, {t6:e}",
            "xor {t7:e}, {t7:e}",
            "mov rax, [{a}]",
            "mul qword ptr [{b}]",
            "mov {t0}, rax",
            "mov {t1}, rdx",
            // column 1
            "mov rax, [{a}]", "mul qword ptr [{b} + 8]",
            "add {t1}, rax", "adc {t2}, rdx", "adc {t3}, 0",
            "mov rax, [{a} + 8]", "mul qword ptr [{b}]",
            "add {t1}, rax", "adc {t2}, rdx", "adc {t3}, 0",
            // column 2
            "mov rax, [{a}]", "mul qword ptr [{b} + 16]",
            "add {t2}, rax", "adc {t3}, rdx", "adc {t4}, 0",
            "mov rax, [{a} + 8]", "mul qword ptr [{b} + 8]",
            "add {t2}, rax", "adc {t3}, rdx", "adc {t4}, 0",
            "mov rax, [{a} + 16]", "mul qword ptr [{b}]",
            "add {t2}, rax", "adc {t3}, rdx", "adc {t4}, 0",
            // column 3
            "mov rax, [{a}]", "mul qword ptr [{b} + 24]",
            "add {t3}, rax", "adc {t4}, rdx", "adc {t5}, 0",
            "mov rax, [{a} + 8]", "mul qword ptr [{b} + 16]",
            "add {t3}, rax", "adc {t4}, rdx", "adc {t5}, 0",
            "mov rax, [{a} + 16]", "mul qword ptr [{b} + 8]",
            "add {t3}, rax", "adc {t4}, rdx", "adc {t5}, 0",
            "mov rax, [{a} + 24]", "mul qword ptr [{b}]",
            "add {t3}, rax", "adc {t4}, rdx", "adc {t5}, 0",
            // column 4
            "mov rax, [{a} + 8]", "mul qword ptr [{b} + 24]",
            "add {t4}, rax", "adc {t5}, rdx", "adc {t6}, 0",
            "mov rax, [{a} + 16]", "mul qword ptr [{b} + 16]",
            "add {t4}, rax", "adc {t5}, rdx", "adc {t6}, 0",
            "mov rax, [{a} + 24]", "mul qword ptr [{b} + 8]",
            "add {t4}, rax", "adc {t5}, rdx", "adc {t6}, 0",
            // column 5
            "mov rax, [{a} + 16]", "mul qword ptr [{b} + 24]",
            "add {t5}, rax", "adc {t6}, rdx", "adc {t7}, 0",
            "mov rax, [{a} + 24]", "mul qword ptr [{b} + 16]",
            "add {t5}, rax", "adc {t6}, rdx", "adc {t7}, 0",
            // column 6 (the top: no carry out of t7)
            "mov rax, [{a} + 24]", "mul qword ptr [{b} + 24]",
            "add {t6}, rax", "adc {t7}, rdx",
            reduce_low_half!("lo", "b"),
            add_high_and_finish!("lo", "b", "a"),
            a = inout(reg) a.as_ptr() => _,
            b = inout(reg) b.as_ptr() => _,
            lo = out(reg) _,
            t0 = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            t4 = out(reg) r0,
            t5 = out(reg) r1,
            t6 = out(reg) r2,
            t7 = out(reg) r3,
            out("rax") _,
            out("rdx") _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// `a²·2⁻²⁵⁶ mod p` with `MUL`/`ADC` (any x86-64): cross products once, doubled, plus the
/// squares.
#[inline(always)]
pub(crate) fn sqr_base(a: &Limbs) -> Limbs {
    let (r0, r1, r2, r3);
    // SAFETY: as in `mul_base`.
    unsafe {
        asm!(
            "xor {t1:e}, {t1:e}",
            "xor {t2:e}, {t2:e}",
            "xor {t3:e}, {t3:e}",
            "xor {t4:e}, {t4:e}",
            "xor {t5:e}, {t5:e}",
            "xor {t6:e}, {t6:e}",
            "xor {t7:e}, {t7:e}",
            // Cross products aᵢ·aⱼ (i < j) by columns.
            "mov rax, [{a}]", "mul qword ptr [{a} + 8]",
            "add {t1}, rax", "adc {t2}, rdx", "adc {t3}, 0",
            "mov rax, [{a}]", "mul qword ptr [{a} + 16]",
            "add {t2}, rax", "adc {t3}, rdx", "adc {t4}, 0",
            "mov rax, [{a}]", "mul qword ptr [{a} + 24]",
            "add {t3}, rax", "adc {t4}, rdx", "adc {t5}, 0",
            "mov rax, [{a} + 8]", "mul qword ptr [{a} + 16]",
            "add {t3}, rax", "adc {t4}, rdx", "adc {t5}, 0",
            "mov rax, [{a} + 8]", "mul qword ptr [{a} + 24]",
            "add {t4}, rax", "adc {t5}, rdx", "adc {t6}, 0",
            "mov rax, [{a} + 16]", "mul qword ptr [{a} + 24]",
            "add {t5}, rax", "adc {t6}, rdx", "adc {t7}, 0",
            // Doubled.
            "add {t1}, {t1}",
            "adc {t2}, {t2}",
            "adc {t3}, {t3}",
            "adc {t4}, {t4}",
            "adc {t5}, {t5}",
            "adc {t6}, {t6}",
            "adc {t7}, {t7}",
            // Plus the squares aᵢ²·2¹²⁸ⁱ; MUL clobbers the flags, so the carry out of each
            // pair waits in `hi` and joins the next square (a² + 1 < 2¹²⁸: no overflow).
            "mov rax, [{a}]", "mul rax",
            "mov {t0}, rax",
            "add {t1}, rdx",
            "mov {hi}, 0", "adc {hi}, 0",
            "mov rax, [{a} + 8]", "mul rax",
            "add rax, {hi}", "adc rdx, 0",
            "add {t2}, rax", "adc {t3}, rdx",
            "mov {hi}, 0", "adc {hi}, 0",
            "mov rax, [{a} + 16]", "mul rax",
            "add rax, {hi}", "adc rdx, 0",
            "add {t4}, rax", "adc {t5}, rdx",
            "mov {hi}, 0", "adc {hi}, 0",
            "mov rax, [{a} + 24]", "mul rax",
            "add rax, {hi}", "adc rdx, 0",
            "add {t6}, rax", "adc {t7}, rdx",
            reduce_low_half!("lo", "hi"),
            add_high_and_finish!("lo", "hi", "a"),
            a = inout(reg) a.as_ptr() => _,
            lo = out(reg) _,
            hi = out(reg) _,
            t0 = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            t4 = out(reg) r0,
            t5 = out(reg) r1,
            t6 = out(reg) r2,
            t7 = out(reg) r3,
            out("rax") _,
            out("rdx") _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// `a·b·2⁻²⁵⁶ mod p` with `MULX`/`ADCX`/`ADOX`.
///
/// # Safety
/// The CPU must have BMI2 and ADX ([`has_bmi2_adx`]).
#[inline(always)]
pub(crate) unsafe fn mul_mulx(a: &Limbs, b: &Limbs) -> Limbs {
    let (r0, r1, r2, r3);
    // SAFETY: the caller checked BMI2 and ADX; otherwise as in `mul_base`.
    unsafe {
        asm!(
            // Row 0: t0..t4 = a·b₀.
            "mov rdx, [{b}]",
            "mulx {t1}, {t0}, [{a}]",
            "mulx {t2}, {lo}, [{a} + 8]",
            "add {t1}, {lo}",
            "mulx {t3}, {hi}, [{a} + 16]",
            "adc {t2}, {hi}",
            "mulx {t4}, {lo}, [{a} + 24]",
            "adc {t3}, {lo}",
            "adc {t4}, 0",
            // Row 1: t1..t5 += a·b₁, low halves on CF, high halves on OF.
            "mov rdx, [{b} + 8]",
            "xor {t5:e}, {t5:e}",
            "mulx {hi}, {lo}, [{a}]",
            "adcx {t1}, {lo}",
            "adox {t2}, {hi}",
            "mulx {hi}, {lo}, [{a} + 8]",
            "adcx {t2}, {lo}",
            "adox {t3}, {hi}",
            "mulx {hi}, {lo}, [{a} + 16]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, [{a} + 24]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            "adc {t5}, 0",
            // Row 2.
            "mov rdx, [{b} + 16]",
            "xor {t6:e}, {t6:e}",
            "mulx {hi}, {lo}, [{a}]",
            "adcx {t2}, {lo}",
            "adox {t3}, {hi}",
            "mulx {hi}, {lo}, [{a} + 8]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, [{a} + 16]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            "mulx {hi}, {lo}, [{a} + 24]",
            "adcx {t5}, {lo}",
            "adox {t6}, {hi}",
            "adc {t6}, 0",
            // Row 3.
            "mov rdx, [{b} + 24]",
            "xor {t7:e}, {t7:e}",
            "mulx {hi}, {lo}, [{a}]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, [{a} + 8]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            "mulx {hi}, {lo}, [{a} + 16]",
            "adcx {t5}, {lo}",
            "adox {t6}, {hi}",
            "mulx {hi}, {lo}, [{a} + 24]",
            "adcx {t6}, {lo}",
            "adox {t7}, {hi}",
            "adc {t7}, 0",
            reduce_low_half!("lo", "hi"),
            add_high_and_finish!("lo", "hi", "a"),
            a = inout(reg) a.as_ptr() => _,
            b = in(reg) b.as_ptr(),
            lo = out(reg) _,
            hi = out(reg) _,
            t0 = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            t4 = out(reg) r0,
            t5 = out(reg) r1,
            t6 = out(reg) r2,
            t7 = out(reg) r3,
            out("rdx") _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// `a²·2⁻²⁵⁶ mod p` with `MULX`/`ADCX`/`ADOX`.
///
/// # Safety
/// The CPU must have BMI2 and ADX ([`has_bmi2_adx`]).
#[inline(always)]
pub(crate) unsafe fn sqr_mulx(a: &Limbs) -> Limbs {
    let (r0, r1, r2, r3);
    // SAFETY: the caller checked BMI2 and ADX; otherwise as in `mul_base`.
    unsafe {
        asm!(
            // Cross products: a₀·(a₁, a₂, a₃) into t1..t4.
            "mov rdx, [{a}]",
            "mulx {t2}, {t1}, [{a} + 8]",
            "mulx {t3}, {lo}, [{a} + 16]",
            "add {t2}, {lo}",
            "mulx {t4}, {hi}, [{a} + 24]",
            "adc {t3}, {hi}",
            "adc {t4}, 0",
            // a₁·(a₂, a₃) into t3..t5.
            "mov rdx, [{a} + 8]",
            "xor {t5:e}, {t5:e}",
            "mulx {hi}, {lo}, [{a} + 16]",
            "adcx {t3}, {lo}",
            "adox {t4}, {hi}",
            "mulx {hi}, {lo}, [{a} + 24]",
            "adcx {t4}, {lo}",
            "adox {t5}, {hi}",
            // a₂·a₃ into t5..t6 (OF is clear: t5 was 0 before its `adox`).
            "mov rdx, [{a} + 16]",
            "mulx {t6}, {lo}, [{a} + 24]",
            "adcx {t5}, {lo}",
            "adc {t6}, 0",
            // Doubled (t7 takes the top bit).
            "xor {t7:e}, {t7:e}",
            "add {t1}, {t1}",
            "adc {t2}, {t2}",
            "adc {t3}, {t3}",
            "adc {t4}, {t4}",
            "adc {t5}, {t5}",
            "adc {t6}, {t6}",
            "adc {t7}, 0",
            // Plus the squares (MULX leaves the flags alone: one carry chain).
            "mov rdx, [{a}]",
            "mulx {hi}, {t0}, rdx",
            "add {t1}, {hi}",
            "mov rdx, [{a} + 8]",
            "mulx {hi}, {lo}, rdx",
            "adc {t2}, {lo}",
            "adc {t3}, {hi}",
            "mov rdx, [{a} + 16]",
            "mulx {hi}, {lo}, rdx",
            "adc {t4}, {lo}",
            "adc {t5}, {hi}",
            "mov rdx, [{a} + 24]",
            "mulx {hi}, {lo}, rdx",
            "adc {t6}, {lo}",
            "adc {t7}, {hi}",
            reduce_low_half!("lo", "hi"),
            add_high_and_finish!("lo", "hi", "a"),
            a = inout(reg) a.as_ptr() => _,
            lo = out(reg) _,
            hi = out(reg) _,
            t0 = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            t4 = out(reg) r0,
            t5 = out(reg) r1,
            t6 = out(reg) r2,
            t7 = out(reg) r3,
            out("rdx") _,
            options(pure, readonly, nostack),
        );
    }
    [r0, r1, r2, r3]
}

#[cfg(test)]
mod tests {
    use super::super::montgomery::{
        self,
        tests::{Rng, edge_values, fiat_mul, fiat_square, less_than_p},
    };
    use super::*;
    use crate::measure::cpu_ns;

    type Mul = fn(&Limbs, &Limbs) -> Limbs;
    type Sqr = fn(&Limbs) -> Limbs;

    fn mul_mulx_checked(a: &Limbs, b: &Limbs) -> Limbs {
        assert!(has_bmi2_adx());
        // SAFETY: just checked.
        unsafe { mul_mulx(a, b) }
    }

    fn sqr_mulx_checked(a: &Limbs) -> Limbs {
        assert!(has_bmi2_adx());
        // SAFETY: just checked.
        unsafe { sqr_mulx(a) }
    }

    /// The variants this CPU can run (the baseline always; MULX/ADX where present).
    fn variants() -> Vec<(&'static str, Mul, Sqr)> {
        let mut v: Vec<(&'static str, Mul, Sqr)> =
            vec![("dispatch", mul, square), ("mul/adc", mul_base, sqr_base)];
        if has_bmi2_adx() {
            v.push(("mulx/adx", mul_mulx_checked, sqr_mulx_checked));
        } else {
            eprintln!("this CPU has no BMI2+ADX: the MULX variant is not tested here");
        }
        v
    }

    fn check(name: &str, mul: Mul, sqr: Sqr, a: &Limbs, b: &Limbs) {
        let want = fiat_mul(a, b);
        assert_eq!(want, montgomery::mul(a, b), "Rust path {a:x?} · {b:x?}");
        let got = mul(a, b);
        assert!(less_than_p(&got), "{name}: {a:x?} · {b:x?} not reduced");
        assert_eq!(got, want, "{name}: {a:x?} · {b:x?}");
        let want = fiat_square(a);
        assert_eq!(want, montgomery::square(a), "Rust path square {a:x?}");
        assert_eq!(sqr(a), want, "{name}: square {a:x?}");
    }

    /// Edge values beyond `montgomery`'s: every limb pattern of all-ones/zero/one that is
    /// below p, and p minus small numbers in every limb position.
    fn more_edges() -> Vec<Limbs> {
        let mut v = edge_values();
        let choices = [
            0u64,
            1,
            u64::MAX,
            0xffff_ffff_0000_0000,
            0xffff_fffe_ffff_ffff,
        ];
        for i in 0..choices.len().pow(4) {
            let mut x = [0u64; 4];
            let mut k = i;
            for limb in &mut x {
                *limb = choices[k % choices.len()];
                k /= choices.len();
            }
            if less_than_p(&x) {
                v.push(x);
            }
        }
        for k in 1..8u64 {
            v.push([
                u64::MAX - k,
                0xffff_ffff_0000_0000,
                u64::MAX,
                0xffff_fffe_ffff_ffff,
            ]);
            v.push([
                u64::MAX,
                0xffff_ffff_0000_0000 - k,
                u64::MAX,
                0xffff_fffe_ffff_ffff,
            ]);
            v.push([0, 0, 0, 0xffff_fffe_ffff_ffff - k]);
        }
        v
    }

    #[test]
    fn agrees_with_rust_and_fiat_on_edge_values() {
        let edges = more_edges();
        assert!(edges.len() > 300);
        for (name, mul, sqr) in variants() {
            for a in &edges {
                assert!(less_than_p(a));
                for b in &edges {
                    check(name, mul, sqr, a, b);
                }
            }
        }
    }

    #[test]
    fn agrees_with_rust_and_fiat_on_random_values() {
        for (name, mul, sqr) in variants() {
            let mut rng = Rng(0x5eed_1234_abcd_0002);
            for _ in 0..100_000 {
                let (a, b) = (rng.below_p(), rng.below_p());
                check(name, mul, sqr, &a, &b);
            }
        }
    }

    #[test]
    fn add_sub_agree_with_fiat_crypto() {
        use fiat_crypto::sm2_64::{
            fiat_sm2_add, fiat_sm2_montgomery_domain_field_element as Mont, fiat_sm2_sub,
        };
        let fiat = |f: fn(&mut Mont, &Mont, &Mont), a: &Limbs, b: &Limbs| {
            let mut out = Mont([0; 4]);
            f(&mut out, &Mont(*a), &Mont(*b));
            out.0
        };
        let edges = more_edges();
        let mut rng = Rng(0x0add_5b00_0000_0001);
        let random: Vec<(Limbs, Limbs)> = (0..100_000)
            .map(|_| (rng.below_p(), rng.below_p()))
            .collect();
        let pairs = edges
            .iter()
            .flat_map(|a| edges.iter().map(move |b| (*a, *b)))
            .chain(random);
        for (a, b) in pairs {
            let sum = add(&a, &b);
            assert!(less_than_p(&sum), "{a:x?} + {b:x?} not reduced");
            assert_eq!(sum, fiat(fiat_sm2_add, &a, &b), "{a:x?} + {b:x?}");
            let diff = sub(&a, &b);
            assert!(less_than_p(&diff), "{a:x?} − {b:x?} not reduced");
            assert_eq!(diff, fiat(fiat_sm2_sub, &a, &b), "{a:x?} − {b:x?}");
        }
    }

    /// Results next to p and to 0: `x · (R mod p) = x`, and `x · 1 = x·R⁻¹`.
    #[test]
    fn results_next_to_p() {
        let r_mod_p: Limbs = [1, 0xffff_ffff, 0, 0x1_0000_0000];
        let p: Limbs = [
            u64::MAX,
            0xffff_ffff_0000_0000,
            u64::MAX,
            0xffff_fffe_ffff_ffff,
        ];
        for (name, mul, _) in variants() {
            for k in 1..=64u64 {
                let mut x = p;
                x[0] -= k;
                assert_eq!(mul(&x, &r_mod_p), x, "{name}: (p − {k})·R·R⁻¹");
                assert_eq!(mul(&r_mod_p, &x), x, "{name}: R·(p − {k})·R⁻¹");
                assert_eq!(mul(&[k, 0, 0, 0], &r_mod_p), [k, 0, 0, 0], "{name}: {k}");
            }
        }
    }

    /// Long dependent chains, as the point code uses them, mixing the variants.
    #[test]
    fn chains_agree_with_fiat_crypto() {
        for (name, mul, sqr) in variants() {
            let mut rng = Rng(0xc0ff_ee00_dead_beef);
            let (mut x, mut y) = (rng.below_p(), rng.below_p());
            let (mut fx, mut fy) = (x, y);
            for _ in 0..20_000 {
                x = mul(&sqr(&x), &y);
                y = sqr(&mul(&y, &x));
                fx = fiat_mul(&fiat_square(&fx), &fy);
                fy = fiat_square(&fiat_mul(&fy, &fx));
            }
            assert_eq!((x, y), (fx, fy), "{name}");
        }
    }

    /// Timing of the variants and the Rust path in dependent chains, same run:
    /// `cargo test --release -p bidkey-crypto --lib asm_x86_64::tests::speed -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn speed() {
        use std::hint::black_box;
        const N: u32 = 2_000_000;
        let mut rng = Rng(7);
        let a0 = rng.below_p();
        let b = rng.below_p();
        let time = |f: &mut dyn FnMut()| {
            let t = cpu_ns();
            f();
            (cpu_ns() - t) / f64::from(N)
        };
        let mut all: Vec<(&'static str, Mul, Sqr)> =
            vec![("rust", montgomery::mul, montgomery::square)];
        all.extend(variants());
        for round in 0..3 {
            let mut line = format!("round {round}:");
            for (name, mul, sqr) in &all {
                let mut a = a0;
                let m = time(&mut || {
                    for _ in 0..N {
                        a = black_box(mul(&a, &b));
                    }
                });
                let s = time(&mut || {
                    for _ in 0..N {
                        a = black_box(sqr(&a));
                    }
                });
                line += &format!("  {name} mul {m:.1} ns sqr {s:.1} ns;");
            }
            println!("{line}");
        }
    }
}
