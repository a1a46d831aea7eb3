//! Compiles the gRPC contract in `proto/` with protox, a protobuf compiler written in Rust,
//! so that building needs no system `protoc`; writes the descriptor set the server's
//! reflection service publishes.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["onewindow/v1/onewindow.proto"], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("onewindow_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // prost's codec, except that an undecodable request is INVALID_ARGUMENT.
        .codec_path("crate::server::codec::Codec")
        .compile_fds(fds)?;
    Ok(())
}
