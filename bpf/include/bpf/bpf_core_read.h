/* rawbpf's own minimal CO-RE macros (the subset of libbpf's bpf_core_read.h
 * that the programs here use). Each one is a clang built-in that yields the
 * value for the types clang saw AND records a CO-RE relocation in .BTF.ext,
 * so the loader can replace that value with the one for the running kernel.
 * The second argument of each built-in is the relocation kind. */
#ifndef RAWBPF_BPF_CORE_READ_H
#define RAWBPF_BPF_CORE_READ_H

/* __builtin_preserve_field_info(field, kind) */
enum bpf_field_info_kind {
	BPF_FIELD_BYTE_OFFSET = 0, /* byte offset of the field */
	BPF_FIELD_BYTE_SIZE = 1,   /* bytes to load it (a bitfield's container) */
	BPF_FIELD_EXISTS = 2,      /* 1 if the field exists */
	BPF_FIELD_SIGNED = 3,      /* 1 if it is a signed integer or enum */
	BPF_FIELD_LSHIFT_U64 = 4,  /* shifts that extract a bitfield */
	BPF_FIELD_RSHIFT_U64 = 5,  /* from a 64-bit load */
};

/* __builtin_btf_type_id(*(type *)0, kind) */
enum bpf_type_id_kind {
	BPF_TYPE_ID_LOCAL = 0,  /* id in the object's own BTF */
	BPF_TYPE_ID_TARGET = 1, /* id in the kernel's BTF */
};

/* __builtin_preserve_type_info(*(type *)0, kind) */
enum bpf_type_info_kind {
	BPF_TYPE_EXISTS = 0,
	BPF_TYPE_SIZE = 1,
};

/* __builtin_preserve_enum_value(*(enum e *)ENUMERATOR, kind) */
enum bpf_enum_value_kind {
	BPF_ENUMVAL_EXISTS = 0,
	BPF_ENUMVAL_VALUE = 1,
};

/* The field argument of the macros below is either an expression such as
 * `p->len`, or a type and a field name: `struct sk_buff, len`, which becomes
 * ((struct sk_buff *)0)->len (never evaluated, only described). */
#define ___core_pick(_1, _2, which, ...) which
#define ___core_ref1(field) (field)
#define ___core_ref2(type, field) (((typeof(type) *)0)->field)
#define __core_field(...) ___core_pick(__VA_ARGS__, ___core_ref2, ___core_ref1)(__VA_ARGS__)

#define bpf_core_field_offset(field...) \
	__builtin_preserve_field_info(__core_field(field), BPF_FIELD_BYTE_OFFSET)
#define bpf_core_field_size(field...) \
	__builtin_preserve_field_info(__core_field(field), BPF_FIELD_BYTE_SIZE)
#define bpf_core_field_exists(field...) \
	__builtin_preserve_field_info(__core_field(field), BPF_FIELD_EXISTS)
#define bpf_core_field_signed(field...) \
	__builtin_preserve_field_info(__core_field(field), BPF_FIELD_SIGNED)
#define bpf_core_field_lshift(field...) \
	__builtin_preserve_field_info(__core_field(field), BPF_FIELD_LSHIFT_U64)
#define bpf_core_field_rshift(field...) \
	__builtin_preserve_field_info(__core_field(field), BPF_FIELD_RSHIFT_U64)

#define bpf_core_type_id_local(type) \
	__builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) \
	__builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_TARGET)
#define bpf_core_type_exists(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_EXISTS)
#define bpf_core_type_size(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_SIZE)

#define bpf_core_enum_value_exists(enum_type, enumerator) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enumerator, BPF_ENUMVAL_EXISTS)
#define bpf_core_enum_value(enum_type, enumerator) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enumerator, BPF_ENUMVAL_VALUE)

#endif
