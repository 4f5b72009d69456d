//! gRPC status codes: [`GrpcCode`], the one place in the workspace that spells the values of
//! the `grpc_code` label, and the number-based helpers that predate the enum.
//!
//! The label values are grpc-go's `Code.String()` names, which go-grpc-middleware writes into
//! `grpc_code`, so dashboards and alerts written for Go services work unchanged. Two of them
//! differ from tonic's variant names (`OK`, not `Ok`; `Canceled` with one `l`); adapters map
//! their framework's code through [`GrpcCode`] and never spell a name themselves.
//!
//! The constants (`code::OK`, `code::INTERNAL`, …) are aliases of the variants, so code that
//! reads `call.finish(code::OK)` keeps compiling; [`name`], [`parse`], [`from_http_status`] and
//! [`NAMES`] forward to the enum.
//!
//! ```
//! use promenade_core::grpc_metrics::{GrpcCode, code};
//! assert_eq!(code::DEADLINE_EXCEEDED, GrpcCode::DeadlineExceeded);
//! assert_eq!(code::name(4), GrpcCode::DeadlineExceeded.as_str());
//! ```

use std::fmt;

use crate::error::Error;

/// A gRPC status code: the number on the wire (`grpc-status`) and the `grpc_code` label value.
///
/// The variants carry the wire numbers (0–16) and are named as grpc-go names the codes, so
/// [`as_str`](GrpcCode::as_str) is the variant's name, except that `Ok` is spelled `OK`.
///
/// ```
/// use promenade_core::grpc_metrics::GrpcCode;
/// assert_eq!(GrpcCode::Ok.as_str(), "OK");
/// assert_eq!(GrpcCode::Canceled.to_string(), "Canceled");
/// assert_eq!(GrpcCode::Unavailable.as_u8(), 14);
/// assert_eq!(GrpcCode::from_u8(16), Some(GrpcCode::Unauthenticated));
/// assert_eq!(GrpcCode::try_from(5), Ok(GrpcCode::NotFound));
/// assert!(GrpcCode::try_from(17).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum GrpcCode {
    /// 0: success.
    Ok = 0,
    /// 1: the operation was cancelled, typically by the caller.
    Canceled = 1,
    /// 2: an error without a more specific code (also any number outside 0–16).
    Unknown = 2,
    /// 3: the client gave an invalid argument.
    InvalidArgument = 3,
    /// 4: the deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// 5: a requested entity was not found.
    NotFound = 5,
    /// 6: the entity a client tried to create already exists.
    AlreadyExists = 6,
    /// 7: the caller may not perform the operation.
    PermissionDenied = 7,
    /// 8: a resource (quota, disk space, …) is exhausted.
    ResourceExhausted = 8,
    /// 9: the system is not in the state the operation requires.
    FailedPrecondition = 9,
    /// 10: the operation was aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// 11: the operation went past the valid range.
    OutOfRange = 11,
    /// 12: the operation is not implemented or supported.
    Unimplemented = 12,
    /// 13: an internal invariant was broken (also a panicking handler).
    Internal = 13,
    /// 14: the service is currently unavailable.
    Unavailable = 14,
    /// 15: unrecoverable data loss or corruption.
    DataLoss = 15,
    /// 16: the request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl GrpcCode {
    /// All 17 codes, in wire-number order (`ALL[n]` is code `n`).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcCode;
    /// assert_eq!(GrpcCode::ALL.len(), 17);
    /// assert!(GrpcCode::ALL.iter().enumerate().all(|(n, c)| usize::from(c.as_u8()) == n));
    /// ```
    pub const ALL: [GrpcCode; 17] = [
        GrpcCode::Ok,
        GrpcCode::Canceled,
        GrpcCode::Unknown,
        GrpcCode::InvalidArgument,
        GrpcCode::DeadlineExceeded,
        GrpcCode::NotFound,
        GrpcCode::AlreadyExists,
        GrpcCode::PermissionDenied,
        GrpcCode::ResourceExhausted,
        GrpcCode::FailedPrecondition,
        GrpcCode::Aborted,
        GrpcCode::OutOfRange,
        GrpcCode::Unimplemented,
        GrpcCode::Internal,
        GrpcCode::Unavailable,
        GrpcCode::DataLoss,
        GrpcCode::Unauthenticated,
    ];

    /// The `grpc_code` label value: grpc-go's `Code.String()`.
    ///
    /// This match is the only place the names are written; every other use in the workspace
    /// (adapters, tests, benchmarks, examples) goes through it.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcCode;
    /// assert_eq!(GrpcCode::Ok.as_str(), "OK");
    /// assert_eq!(GrpcCode::Canceled.as_str(), "Canceled");
    /// assert_eq!(GrpcCode::Unauthenticated.as_str(), "Unauthenticated");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            GrpcCode::Ok => "OK",
            GrpcCode::Canceled => "Canceled",
            GrpcCode::Unknown => "Unknown",
            GrpcCode::InvalidArgument => "InvalidArgument",
            GrpcCode::DeadlineExceeded => "DeadlineExceeded",
            GrpcCode::NotFound => "NotFound",
            GrpcCode::AlreadyExists => "AlreadyExists",
            GrpcCode::PermissionDenied => "PermissionDenied",
            GrpcCode::ResourceExhausted => "ResourceExhausted",
            GrpcCode::FailedPrecondition => "FailedPrecondition",
            GrpcCode::Aborted => "Aborted",
            GrpcCode::OutOfRange => "OutOfRange",
            GrpcCode::Unimplemented => "Unimplemented",
            GrpcCode::Internal => "Internal",
            GrpcCode::Unavailable => "Unavailable",
            GrpcCode::DataLoss => "DataLoss",
            GrpcCode::Unauthenticated => "Unauthenticated",
        }
    }

    /// The wire number (0–16).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcCode;
    /// assert_eq!(GrpcCode::Ok.as_u8(), 0);
    /// assert_eq!(GrpcCode::Internal.as_u8(), 13);
    /// ```
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code of a wire number; `None` outside 0–16. (On the wire such numbers mean
    /// [`Unknown`](GrpcCode::Unknown), as tonic and grpc-go read them; write
    /// `from_u8(n).unwrap_or(GrpcCode::Unknown)` for that.)
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcCode;
    /// assert_eq!(GrpcCode::from_u8(0), Some(GrpcCode::Ok));
    /// assert_eq!(GrpcCode::from_u8(10), Some(GrpcCode::Aborted));
    /// assert_eq!(GrpcCode::from_u8(17), None);
    /// ```
    pub const fn from_u8(n: u8) -> Option<GrpcCode> {
        let i = n as usize;
        if i < GrpcCode::ALL.len() {
            Some(GrpcCode::ALL[i])
        } else {
            None
        }
    }

    /// Parses a `grpc-status` header value (ASCII decimal, no sign, no padding). A present but
    /// invalid value, or a number outside 0–16, is [`Unknown`](GrpcCode::Unknown), as the
    /// gRPC HTTP/2 protocol has clients treat it.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcCode;
    /// assert_eq!(GrpcCode::from_grpc_status(b"0"), GrpcCode::Ok);
    /// assert_eq!(GrpcCode::from_grpc_status(b"14"), GrpcCode::Unavailable);
    /// assert_eq!(GrpcCode::from_grpc_status(b"17"), GrpcCode::Unknown);
    /// assert_eq!(GrpcCode::from_grpc_status(b" 5"), GrpcCode::Unknown);
    /// assert_eq!(GrpcCode::from_grpc_status(b""), GrpcCode::Unknown);
    /// ```
    pub fn from_grpc_status(value: &[u8]) -> GrpcCode {
        let n = match value {
            [d @ b'0'..=b'9'] => d - b'0',
            [b'1', d @ b'0'..=b'6'] => 10 + (d - b'0'),
            _ => return GrpcCode::Unknown,
        };
        GrpcCode::from_u8(n).unwrap_or(GrpcCode::Unknown)
    }

    /// The code a client infers from an HTTP status when a response carries no `grpc-status`
    /// (the gRPC "HTTP to gRPC status code mapping").
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcCode;
    /// assert_eq!(GrpcCode::from_http_status(404), GrpcCode::Unimplemented);
    /// assert_eq!(GrpcCode::from_http_status(503), GrpcCode::Unavailable);
    /// assert_eq!(GrpcCode::from_http_status(418), GrpcCode::Unknown);
    /// ```
    pub fn from_http_status(status: u16) -> GrpcCode {
        match status {
            400 => GrpcCode::Internal,
            401 => GrpcCode::Unauthenticated,
            403 => GrpcCode::PermissionDenied,
            404 => GrpcCode::Unimplemented,
            429 | 502 | 503 | 504 => GrpcCode::Unavailable,
            _ => GrpcCode::Unknown,
        }
    }
}

impl fmt::Display for GrpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire number, e.g. to compare with a framework's numeric code.
///
/// ```
/// use promenade_core::grpc_metrics::GrpcCode;
/// assert_eq!(u8::from(GrpcCode::NotFound), 5);
/// ```
impl From<GrpcCode> for u8 {
    fn from(code: GrpcCode) -> u8 {
        code.as_u8()
    }
}

/// The wire number as tonic and prost carry it (`i32`).
///
/// ```
/// use promenade_core::grpc_metrics::GrpcCode;
/// assert_eq!(i32::from(GrpcCode::Unauthenticated), 16);
/// ```
impl From<GrpcCode> for i32 {
    fn from(code: GrpcCode) -> i32 {
        i32::from(code.as_u8())
    }
}

/// The code of a wire number as tonic and prost carry it (`i32`, e.g.
/// `i32::from(tonic::Code::NotFound)`); numbers outside 0–16 are an
/// [`Error::InvalidConfig`].
///
/// ```
/// use promenade_core::grpc_metrics::GrpcCode;
/// assert_eq!(GrpcCode::try_from(4), Ok(GrpcCode::DeadlineExceeded));
/// assert!(GrpcCode::try_from(-1).is_err());
/// assert!(GrpcCode::try_from(256).is_err());
/// ```
impl TryFrom<i32> for GrpcCode {
    type Error = Error;

    fn try_from(n: i32) -> Result<GrpcCode, Error> {
        u8::try_from(n)
            .ok()
            .and_then(GrpcCode::from_u8)
            .ok_or_else(|| Error::InvalidConfig(format!("gRPC status code {n} is outside 0-16")))
    }
}

// The number-era names, kept as aliases of the variants (see the module docs). A macro, so
// that each alias is written once and still gets its own runnable example.
macro_rules! aliases {
    ($($alias:ident = $variant:ident,)*) => {$(
        #[doc = concat!("[`GrpcCode::", stringify!($variant), "`] under its constant name.")]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "use promenade_core::grpc_metrics::{GrpcCode, code};"]
        #[doc = concat!("assert_eq!(code::", stringify!($alias), ", GrpcCode::", stringify!($variant), ");")]
        #[doc = "```"]
        pub const $alias: GrpcCode = GrpcCode::$variant;
    )*};
}

aliases! {
    OK = Ok,
    CANCELED = Canceled,
    UNKNOWN = Unknown,
    INVALID_ARGUMENT = InvalidArgument,
    DEADLINE_EXCEEDED = DeadlineExceeded,
    NOT_FOUND = NotFound,
    ALREADY_EXISTS = AlreadyExists,
    PERMISSION_DENIED = PermissionDenied,
    RESOURCE_EXHAUSTED = ResourceExhausted,
    FAILED_PRECONDITION = FailedPrecondition,
    ABORTED = Aborted,
    OUT_OF_RANGE = OutOfRange,
    UNIMPLEMENTED = Unimplemented,
    INTERNAL = Internal,
    UNAVAILABLE = Unavailable,
    DATA_LOSS = DataLoss,
    UNAUTHENTICATED = Unauthenticated,
}

/// The `grpc_code` label values indexed by wire number, taken from [`GrpcCode::as_str`].
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcCode, code};
/// assert_eq!(code::NAMES[13], GrpcCode::Internal.as_str());
/// ```
pub const NAMES: [&str; 17] = {
    let mut names = [""; 17];
    let mut i = 0;
    while i < names.len() {
        names[i] = GrpcCode::ALL[i].as_str();
        i += 1;
    }
    names
};

/// The `grpc_code` label value of a wire number. Numbers outside 0–16 are `Unknown` (as tonic
/// and grpc-go treat them on the wire), which keeps the label's values bounded.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcCode, code};
/// assert_eq!(code::name(0), "OK");
/// assert_eq!(code::name(1), "Canceled");
/// assert_eq!(code::name(16), "Unauthenticated");
/// assert_eq!(code::name(99), GrpcCode::Unknown.as_str());
/// ```
pub fn name(code: u8) -> &'static str {
    GrpcCode::from_u8(code)
        .unwrap_or(GrpcCode::Unknown)
        .as_str()
}

/// [`GrpcCode::from_grpc_status`]: a `grpc-status` header value, invalid or out of range
/// being `Unknown`.
///
/// ```
/// use promenade_core::grpc_metrics::code;
/// assert_eq!(code::parse(b"0"), code::OK);
/// assert_eq!(code::parse(b"14"), code::UNAVAILABLE);
/// assert_eq!(code::parse(b"17"), code::UNKNOWN);
/// assert_eq!(code::parse(b" 5"), code::UNKNOWN);
/// assert_eq!(code::parse(b""), code::UNKNOWN);
/// ```
pub fn parse(value: &[u8]) -> GrpcCode {
    GrpcCode::from_grpc_status(value)
}

/// [`GrpcCode::from_http_status`]: the code a client infers from an HTTP status when a
/// response carries no `grpc-status`.
///
/// ```
/// use promenade_core::grpc_metrics::code;
/// assert_eq!(code::from_http_status(404), code::UNIMPLEMENTED);
/// assert_eq!(code::from_http_status(503), code::UNAVAILABLE);
/// assert_eq!(code::from_http_status(418), code::UNKNOWN);
/// ```
pub fn from_http_status(status: u16) -> GrpcCode {
    GrpcCode::from_http_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for (n, c) in GrpcCode::ALL.into_iter().enumerate() {
            let n8 = u8::try_from(n).unwrap();
            assert_eq!(c.as_u8(), n8);
            assert_eq!(GrpcCode::from_u8(n8), Some(c));
            assert_eq!(GrpcCode::try_from(i32::from(n8)), Ok(c));
            assert_eq!(i32::from(c), i32::from(n8));
            assert_eq!(GrpcCode::from_grpc_status(n.to_string().as_bytes()), c);
        }
        for n in 17..=u8::MAX {
            assert_eq!(GrpcCode::from_u8(n), None);
        }
        for n in [i32::MIN, -1, 17, 255, 256, i32::MAX] {
            assert!(GrpcCode::try_from(n).is_err(), "{n}");
        }
    }

    #[test]
    fn names_are_the_variant_names_in_grpc_go_spelling() {
        // The variants are spelled as grpc-go spells the codes (one `l` in `Canceled`), so a
        // label value is its variant's name; Rust's naming rules only turn `OK` into `Ok`.
        for c in GrpcCode::ALL {
            let variant = format!("{c:?}");
            if c == GrpcCode::Ok {
                assert_eq!(c.as_str(), variant.to_uppercase());
            } else {
                assert_eq!(c.as_str(), variant);
            }
            assert_eq!(c.to_string(), c.as_str());
        }
        let mut names: Vec<_> = GrpcCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn number_era_helpers_agree_with_the_enum() {
        for (n, c) in GrpcCode::ALL.into_iter().enumerate() {
            let n8 = u8::try_from(n).unwrap();
            assert_eq!(NAMES[n], c.as_str());
            assert_eq!(name(n8), c.as_str());
            assert_eq!(parse(n.to_string().as_bytes()), c);
        }
        assert_eq!(name(17), GrpcCode::Unknown.as_str());
        assert_eq!(name(255), GrpcCode::Unknown.as_str());
        for status in 0..=u16::MAX {
            assert_eq!(from_http_status(status), GrpcCode::from_http_status(status));
        }
    }

    #[test]
    fn status_parsing_is_strict() {
        for bad in [
            &b"-1"[..],
            b"017",
            b"1 ",
            b"x",
            b"20",
            b"99999999999",
            b"\xff",
        ] {
            assert_eq!(
                GrpcCode::from_grpc_status(bad),
                GrpcCode::Unknown,
                "{bad:?}"
            );
            assert_eq!(parse(bad), UNKNOWN, "{bad:?}");
        }
        assert_eq!(GrpcCode::from_grpc_status(b"10"), GrpcCode::Aborted);
        assert_eq!(parse(b"10"), ABORTED);
    }
}
