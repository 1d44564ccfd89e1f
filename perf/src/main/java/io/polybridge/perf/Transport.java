package io.polybridge.perf;

/** What carries a call: polybridge to a Go or Rust worker, or the UDS + protobuf baseline (Go server). */
public enum Transport
{
    POLYBRIDGE_GO, POLYBRIDGE_RUST, UDS_PROTOBUF
}
