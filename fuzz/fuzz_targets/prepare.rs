#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rawbpf_fuzz::prepare(data));
