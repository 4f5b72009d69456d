//! Shared by the `tonic-server` and `tonic-client` examples: argument parsing and the
//! metrics set-up (one line per descriptor set).

#![allow(dead_code)]

use promenade_core::Registry;
use promenade_core::grpc_metrics::{GrpcMetrics, Side};
use promenade_tonic::GrpcMetricsBuilderExt as _;

/// Result type of the examples.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The value after `--name` in the command line, if given.
pub(crate) fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_owned());
        }
    }
    None
}

/// Whether `--name` was given.
pub(crate) fn flag(name: &str) -> bool {
    std::env::args().skip(1).any(|a| a == name)
}

/// gRPC metrics for the demo and health services, every series pre-created at zero;
/// `--native` on the command line adds native buckets to the handling-seconds histogram.
pub(crate) fn grpc_metrics(registry: &Registry, side: Side) -> Result<GrpcMetrics> {
    let mut builder = GrpcMetrics::builder(registry, side)
        .file_descriptor_set(promenade_tonic_demo::FILE_DESCRIPTOR_SET)?
        .file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)?
        .initialize(true);
    if flag("--native") {
        builder = builder.native_histograms(promenade_core::NativeBuckets::default());
    }
    Ok(builder.build()?)
}
