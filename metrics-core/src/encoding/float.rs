//! Number formatting that matches the Go client byte for byte: Go's shortest `%g` for text
//! 0.0.4 values, and the canonical OpenMetrics form (`%g` plus `.0` when there is neither `.`
//! nor an exponent) for OpenMetrics float values and `le`/`quantile` labels.

use std::fmt::Write as _;

/// Appends `v` formatted like Go's `strconv.FormatFloat(v, 'g', -1, 64)`: shortest round-trip
/// digits, scientific form when the decimal exponent is below -4 or at least 6, exponent
/// with a sign and at least two digits; `NaN`, `+Inf`, `-Inf` for the specials.
///
/// ```
/// let mut s = String::new();
/// promenade_core::encoding::write_go_float(&mut s, 1e6);
/// assert_eq!(s, "1e+06");
/// ```
pub fn write_go_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Fast path: whole numbers below 1e6 print as integers in both notations.
    if v.fract() == 0.0 && v.abs() < 1e6 {
        if v == 0.0 && v.is_sign_negative() {
            out.push_str("-0");
        } else {
            out.push_str(itoa::Buffer::new().format(v as i64));
        }
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits; re-lay them out as Go does.
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if v.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
}

/// Appends `v` in OpenMetrics canonical form: Go's `%g`, plus `.0` when the result has
/// neither a `.` nor an exponent (`1` → `1.0`, `1e+06` stays). Used for `le`, `quantile`
/// and float sample values.
///
/// ```
/// let mut s = String::new();
/// promenade_core::encoding::write_openmetrics_float(&mut s, 100000.0);
/// assert_eq!(s, "100000.0");
/// ```
pub fn write_openmetrics_float(out: &mut String, v: f64) {
    let start = out.len();
    write_go_float(out, v);
    if v.is_finite() && !out[start..].bytes().any(|b| b == b'.' || b == b'e') {
        out.push_str(".0");
    }
}

/// Appends an unsigned integer.
#[inline]
pub(crate) fn write_u64(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}
