//! tonic's status codes as the Go middleware's `grpc_code` label values.
//!
//! The label values themselves live in the core ([`GrpcCode::as_str`]); this file only maps
//! tonic's [`Code`] onto [`GrpcCode`], by wire number, so the adapter spells no name itself.

use promenade_core::grpc_metrics::GrpcCode;
use tonic::Code;

/// The core's [`GrpcCode`] of a tonic code.
///
/// ```
/// use promenade_core::grpc_metrics::GrpcCode;
/// use promenade_tonic::grpc_code;
/// assert_eq!(grpc_code(tonic::Code::Ok), GrpcCode::Ok);
/// assert_eq!(grpc_code(tonic::Code::Cancelled), GrpcCode::Canceled);
/// assert_eq!(grpc_code(tonic::Code::DeadlineExceeded), GrpcCode::DeadlineExceeded);
/// ```
pub fn grpc_code(c: Code) -> GrpcCode {
    // tonic's discriminants are the wire numbers, as GrpcCode's are; tonic has no code outside
    // 0–16, and if it ever had one, it would be `Unknown`, as on the wire.
    u8::try_from(i32::from(c))
        .ok()
        .and_then(GrpcCode::from_u8)
        .unwrap_or(GrpcCode::Unknown)
}

/// The grpc-go `Code.String()` name of a tonic code: `OK`, `Canceled`, … (tonic's own
/// names differ: `Ok`, `Cancelled`).
///
/// ```
/// use promenade_core::grpc_metrics::GrpcCode;
/// use promenade_tonic::code_name;
/// assert_eq!(code_name(tonic::Code::Ok), "OK");
/// assert_eq!(code_name(tonic::Code::Cancelled), "Canceled");
/// assert_eq!(code_name(tonic::Code::DeadlineExceeded), GrpcCode::DeadlineExceeded.as_str());
/// ```
pub fn code_name(c: Code) -> &'static str {
    grpc_code(c).as_str()
}

/// The code number of a tonic code, as [`GrpcCode::as_u8`] gives it.
///
/// ```
/// use promenade_tonic::code_number;
/// assert_eq!(code_number(tonic::Code::Unauthenticated), 16);
/// ```
pub fn code_number(c: Code) -> u8 {
    grpc_code(c).as_u8()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tonic's codes as it numbers them, so that the test walks tonic's enum, not the core's.
    fn tonic_codes() -> Vec<Code> {
        (0..17).map(Code::from_i32).collect()
    }

    #[test]
    fn all_17_codes() {
        let codes = tonic_codes();
        assert_eq!(codes.len(), GrpcCode::ALL.len());
        for (i, c) in codes.into_iter().enumerate() {
            // Every number maps to its own tonic code (none falls back to tonic's Unknown).
            assert!(c != Code::Unknown || i == 2, "tonic has no code {i}");
            assert_eq!(i32::from(c), i32::try_from(i).unwrap(), "tonic numbering");
            assert_eq!(usize::from(code_number(c)), i);
            assert_eq!(grpc_code(c), GrpcCode::ALL[i]);
            assert_eq!(code_name(c), GrpcCode::ALL[i].as_str());
        }
    }

    #[test]
    fn names_are_tonics_in_grpc_go_spelling() {
        // tonic's variant names are the grpc-go names except for two spellings: `Ok` is `OK`
        // and `Cancelled` is `Canceled` in grpc-go's `Code.String()`, which the Go middleware
        // puts in `grpc_code`. Checking against tonic's own names keeps the core's table honest
        // without writing it out a second time.
        for c in tonic_codes() {
            let tonic_name = format!("{c:?}");
            let expected = match c {
                Code::Ok => tonic_name.to_uppercase(),
                Code::Cancelled => tonic_name.replacen("ll", "l", 1),
                _ => tonic_name,
            };
            assert_eq!(code_name(c), expected, "{c:?}");
        }
    }
}
