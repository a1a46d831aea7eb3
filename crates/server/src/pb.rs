//! The generated protobuf types and gRPC stubs of `proto/onewindow/v1/onewindow.proto`.
//! Only the server module uses them: the rest of the crate never sees protobuf.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("onewindow.v1");

/// The descriptor set the reflection service publishes.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("onewindow_descriptor");
