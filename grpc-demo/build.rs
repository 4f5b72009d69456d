//! Compiles `proto/demo.proto` with protox (pure Rust: no system `protoc` needed) and
//! generates the tonic client and server, plus the encoded `FileDescriptorSet`.
//!
//! The descriptor set lands where the usual tonic recipe puts it,
//! `tonic_prost_build::configure().file_descriptor_set_path(out_dir.join("demo_descriptor.bin"))`,
//! so `lib.rs` loads it with `tonic::include_file_descriptor_set!("demo_descriptor")`.
//! Written by hand: `compile_fds` (the protox path) does not write the file itself.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/demo.proto");
    let fds = protox::compile(["proto/demo.proto"], ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("demo_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
