//! tonic's status codes as the Go middleware's `grpc_code` label values.

use promenade_core::grpc_metrics::code;
use tonic::Code;

/// The grpc-go `Code.String()` name of a tonic code: `OK`, `Canceled`, … (tonic's own
/// names differ: `Ok`, `Cancelled`).
///
/// ```
/// use promenade_tonic::code_name;
/// assert_eq!(code_name(tonic::Code::Ok), "OK");
/// assert_eq!(code_name(tonic::Code::Cancelled), "Canceled");
/// assert_eq!(code_name(tonic::Code::DeadlineExceeded), "DeadlineExceeded");
/// ```
pub fn code_name(c: Code) -> &'static str {
    match c {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The code number of a tonic code, as used by [`promenade_core::grpc_metrics::code`].
///
/// ```
/// use promenade_tonic::code_number;
/// assert_eq!(code_number(tonic::Code::Unauthenticated), 16);
/// ```
pub fn code_number(c: Code) -> u8 {
    match c {
        Code::Ok => code::OK,
        Code::Cancelled => code::CANCELED,
        Code::Unknown => code::UNKNOWN,
        Code::InvalidArgument => code::INVALID_ARGUMENT,
        Code::DeadlineExceeded => code::DEADLINE_EXCEEDED,
        Code::NotFound => code::NOT_FOUND,
        Code::AlreadyExists => code::ALREADY_EXISTS,
        Code::PermissionDenied => code::PERMISSION_DENIED,
        Code::ResourceExhausted => code::RESOURCE_EXHAUSTED,
        Code::FailedPrecondition => code::FAILED_PRECONDITION,
        Code::Aborted => code::ABORTED,
        Code::OutOfRange => code::OUT_OF_RANGE,
        Code::Unimplemented => code::UNIMPLEMENTED,
        Code::Internal => code::INTERNAL,
        Code::Unavailable => code::UNAVAILABLE,
        Code::DataLoss => code::DATA_LOSS,
        Code::Unauthenticated => code::UNAUTHENTICATED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_17_codes() {
        let all = [
            (Code::Ok, "OK"),
            (Code::Cancelled, "Canceled"),
            (Code::Unknown, "Unknown"),
            (Code::InvalidArgument, "InvalidArgument"),
            (Code::DeadlineExceeded, "DeadlineExceeded"),
            (Code::NotFound, "NotFound"),
            (Code::AlreadyExists, "AlreadyExists"),
            (Code::PermissionDenied, "PermissionDenied"),
            (Code::ResourceExhausted, "ResourceExhausted"),
            (Code::FailedPrecondition, "FailedPrecondition"),
            (Code::Aborted, "Aborted"),
            (Code::OutOfRange, "OutOfRange"),
            (Code::Unimplemented, "Unimplemented"),
            (Code::Internal, "Internal"),
            (Code::Unavailable, "Unavailable"),
            (Code::DataLoss, "DataLoss"),
            (Code::Unauthenticated, "Unauthenticated"),
        ];
        for (i, (c, name)) in all.into_iter().enumerate() {
            assert_eq!(code_name(c), name);
            assert_eq!(c as i32, i as i32, "tonic numbering");
            assert_eq!(code_number(c) as usize, i);
            // The core's table agrees with the explicit tonic mapping.
            assert_eq!(code::name(code_number(c)), name);
        }
    }
}
