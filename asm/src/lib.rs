//! BPF instructions (placeholder, being written).
