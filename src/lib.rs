//! rawbpf (placeholder).
