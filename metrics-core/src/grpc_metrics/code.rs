//! gRPC status codes as numbers, with the grpc-go names used in the `grpc_code` label.

/// `OK`
pub const OK: u8 = 0;
/// `Canceled`
pub const CANCELED: u8 = 1;
/// `Unknown`
pub const UNKNOWN: u8 = 2;
/// `InvalidArgument`
pub const INVALID_ARGUMENT: u8 = 3;
/// `DeadlineExceeded`
pub const DEADLINE_EXCEEDED: u8 = 4;
/// `NotFound`
pub const NOT_FOUND: u8 = 5;
/// `AlreadyExists`
pub const ALREADY_EXISTS: u8 = 6;
/// `PermissionDenied`
pub const PERMISSION_DENIED: u8 = 7;
/// `ResourceExhausted`
pub const RESOURCE_EXHAUSTED: u8 = 8;
/// `FailedPrecondition`
pub const FAILED_PRECONDITION: u8 = 9;
/// `Aborted`
pub const ABORTED: u8 = 10;
/// `OutOfRange`
pub const OUT_OF_RANGE: u8 = 11;
/// `Unimplemented`
pub const UNIMPLEMENTED: u8 = 12;
/// `Internal`
pub const INTERNAL: u8 = 13;
/// `Unavailable`
pub const UNAVAILABLE: u8 = 14;
/// `DataLoss`
pub const DATA_LOSS: u8 = 15;
/// `Unauthenticated`
pub const UNAUTHENTICATED: u8 = 16;

/// The grpc-go `Code.String()` names, indexed by code number.
pub const NAMES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// The `grpc_code` label of a code number. Numbers outside 0–16 are `Unknown` (as tonic
/// and grpc-go treat them on the wire), which keeps the label's values bounded.
///
/// ```
/// use promenade_core::grpc_metrics::code;
/// assert_eq!(code::name(0), "OK");
/// assert_eq!(code::name(1), "Canceled");
/// assert_eq!(code::name(16), "Unauthenticated");
/// assert_eq!(code::name(99), "Unknown");
/// ```
pub fn name(code: u8) -> &'static str {
    NAMES.get(usize::from(code)).copied().unwrap_or("Unknown")
}

/// Parses a `grpc-status` header value (ASCII decimal). A present but invalid value, or a
/// number outside 0–16, is `Unknown`.
///
/// ```
/// use promenade_core::grpc_metrics::code;
/// assert_eq!(code::parse(b"0"), code::OK);
/// assert_eq!(code::parse(b"14"), code::UNAVAILABLE);
/// assert_eq!(code::parse(b"17"), code::UNKNOWN);
/// assert_eq!(code::parse(b" 5"), code::UNKNOWN);
/// assert_eq!(code::parse(b""), code::UNKNOWN);
/// ```
pub fn parse(value: &[u8]) -> u8 {
    match value {
        [d @ b'0'..=b'9'] => d - b'0',
        [b'1', d @ b'0'..=b'6'] => 10 + (d - b'0'),
        _ => UNKNOWN,
    }
}

/// The code a client infers from an HTTP status when a response carries no `grpc-status`
/// (the gRPC "HTTP to gRPC status code mapping").
///
/// ```
/// use promenade_core::grpc_metrics::code;
/// assert_eq!(code::from_http_status(404), code::UNIMPLEMENTED);
/// assert_eq!(code::from_http_status(503), code::UNAVAILABLE);
/// assert_eq!(code::from_http_status(418), code::UNKNOWN);
/// ```
pub fn from_http_status(status: u16) -> u8 {
    match status {
        400 => INTERNAL,
        401 => UNAUTHENTICATED,
        403 => PERMISSION_DENIED,
        404 => UNIMPLEMENTED,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use crate::grpc_metrics::code;

    #[test]
    fn all_17_code_names_match_grpc_go() {
        let expected = [
            (0, "OK"),
            (1, "Canceled"),
            (2, "Unknown"),
            (3, "InvalidArgument"),
            (4, "DeadlineExceeded"),
            (5, "NotFound"),
            (6, "AlreadyExists"),
            (7, "PermissionDenied"),
            (8, "ResourceExhausted"),
            (9, "FailedPrecondition"),
            (10, "Aborted"),
            (11, "OutOfRange"),
            (12, "Unimplemented"),
            (13, "Internal"),
            (14, "Unavailable"),
            (15, "DataLoss"),
            (16, "Unauthenticated"),
        ];
        for (n, name) in expected {
            assert_eq!(code::name(n), name);
            assert_eq!(code::parse(n.to_string().as_bytes()), n);
        }
        assert_eq!(code::name(17), "Unknown");
        assert_eq!(code::name(255), "Unknown");
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
            assert_eq!(code::parse(bad), code::UNKNOWN, "{bad:?}");
        }
        assert_eq!(code::parse(b"10"), code::ABORTED);
    }
}
