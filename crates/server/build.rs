//! Compiles the gRPC contract in `proto/` with protox, a protobuf compiler written in Rust,
//! so that building needs no system `protoc`; writes the descriptor set the server's
//! reflection service publishes, with serde derives so that the JSON/HTTP API speaks the
//! same messages.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../../proto");
    let fds = protox::compile(["onewindow/v1/onewindow.proto"], ["../../proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("onewindow_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // prost's codec, except that an undecodable request is INVALID_ARGUMENT.
        .codec_path("crate::codec::Codec")
        // The JSON/HTTP API speaks the same messages (field names as in the .proto; a
        // missing field is its default, as in protobuf). A form value is the bare JSON
        // value (`"text"`, `12.5`, `true`, `"2025-03-03"`), typed by the workflow's field.
        .message_attribute(
            ".onewindow.v1",
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        )
        .enum_attribute(
            ".onewindow.v1",
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(untagged)]",
        )
        .message_attribute(".onewindow.v1.FieldValue", "#[serde(transparent)]")
        .compile_fds(fds)?;
    Ok(())
}
