/* rawbpf's own stand-in for libbpf's bpf_tracing.h. The seed program includes
 * it but uses none of its macros, so it only needs to exist. */
#ifndef RAWBPF_BPF_TRACING_H
#define RAWBPF_BPF_TRACING_H
#endif
