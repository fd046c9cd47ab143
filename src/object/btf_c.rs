//! BTF types printed as C declarations, for `rawbpf inspect`.
//!
//! BTF is a C type graph: a map's key and value are type ids, and printing
//! them the way the program's source declared them (`struct elem`, `__u32`,
//! `char [41]`) is the shortest way to show what the kernel will check
//! accesses against. Declarators nest like C's: a pointer to an array of
//! four ints is `int (*name)[4]`. Every walk is bounded (16 levels) so a
//! malformed type loop cannot recurse forever.

use std::fmt::Write as _;

use crate::error::Result;
use crate::object::btf::{kind, Btf, Type};

/// How deep declarators and nested definitions may go.
const DEPTH: usize = 16;

/// `type name` as C declares a variable of type `id` called `name` (which
/// may be empty for an abstract declarator: `struct elem`, `char [41]`).
pub fn declaration(btf: &Btf, id: u32, name: &str) -> String {
    let mut out = decl(btf, id, name.to_string(), 0);
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// `base inner`, or `base` alone for an abstract declarator.
fn join(base: String, inner: &str) -> String {
    if inner.is_empty() {
        base
    } else {
        format!("{base} {inner}")
    }
}

/// `inner` in parentheses when it is a pointer: `(*a)[4]`, `(*f)(int)`.
fn group(inner: String) -> String {
    if inner.starts_with('*') {
        format!("({inner})")
    } else {
        inner
    }
}

/// Type `id` declaring `inner`, which is built from the outside in: a
/// pointer adds `*`, an array `[n]`, a prototype its parameters, until a
/// named type ends the walk.
fn decl(btf: &Btf, id: u32, inner: String, depth: usize) -> String {
    if depth > DEPTH {
        return join("...".into(), &inner);
    }
    if id == 0 {
        return join("void".into(), &inner);
    }
    let Ok(t) = btf.get(id) else {
        return join(format!("<bad type {id}>"), &inner);
    };
    let name = btf.name(t.name_off).unwrap_or("?");
    let next = t.size_or_type;
    match t.kind {
        kind::INT | kind::FLOAT | kind::TYPEDEF => join(name.into(), &inner),
        kind::STRUCT | kind::UNION | kind::ENUM | kind::ENUM64 | kind::FWD => {
            join(tagged(btf, id, &t, name), &inner)
        }
        kind::PTR => decl(btf, next, format!("*{inner}"), depth + 1),
        kind::ARRAY => {
            let (elem, n) = btf.array(id).unwrap_or((0, 0));
            decl(btf, elem, format!("{}[{n}]", group(inner)), depth + 1)
        }
        kind::CONST | kind::VOLATILE | kind::RESTRICT => qualified(btf, &t, inner, depth),
        kind::TYPE_TAG => decl(btf, next, inner, depth + 1),
        kind::FUNC_PROTO => {
            let params = params(btf, id, depth);
            decl(btf, next, format!("{}({params})", group(inner)), depth + 1)
        }
        kind::FUNC | kind::VAR => decl(btf, next, name.to_string(), depth + 1),
        kind::DATASEC => join(format!("DATASEC {name}"), &inner),
        k => join(format!("<kind {k}>"), &inner),
    }
}

/// `struct elem`, `union u`, `enum e`; an anonymous one is its definition.
fn tagged(btf: &Btf, id: u32, t: &Type<'_>, name: &str) -> String {
    let tag = match t.kind {
        kind::STRUCT => "struct",
        kind::UNION => "union",
        kind::FWD if t.kflag => "union",
        kind::FWD => "struct",
        _ => "enum",
    };
    if name.is_empty() {
        definition(btf, id).unwrap_or_else(|_| format!("{tag} {{ ... }}"))
    } else {
        format!("{tag} {name}")
    }
}

/// A qualifier, placed before what it qualifies: `const char *p` and
/// `char *const p` both read naturally that way.
fn qualified(btf: &Btf, t: &Type<'_>, inner: String, depth: usize) -> String {
    let q = match t.kind {
        kind::CONST => "const",
        kind::VOLATILE => "volatile",
        _ => "restrict",
    };
    let next = t.size_or_type;
    if inner.starts_with('*') || inner.is_empty() || !is_pointer(btf, next) {
        format!("{q} {}", decl(btf, next, inner, depth + 1))
    } else {
        decl(btf, next, format!("{q} {inner}"), depth + 1)
    }
}

fn is_pointer(btf: &Btf, id: u32) -> bool {
    btf.get(id).is_ok_and(|t| t.kind == kind::PTR)
}

fn params(btf: &Btf, id: u32, depth: usize) -> String {
    let Ok(t) = btf.get(id) else {
        return String::new();
    };
    let list: Vec<String> = (0..u32::from(t.vlen))
        .map(|i| match t.param(i) {
            Ok((_, 0)) => "...".to_string(),
            Ok((name_off, ty)) => {
                let name = btf.name(name_off).unwrap_or("");
                decl(btf, ty, name.to_string(), depth + 1)
            }
            Err(_) => "?".to_string(),
        })
        .collect();
    if list.is_empty() {
        "void".into()
    } else {
        list.join(", ")
    }
}

/// The C definition of a struct, union or enum:
/// `struct elem {\n\tstruct bpf_timer timer;\n}`. Other kinds print their
/// declaration.
pub fn definition(btf: &Btf, id: u32) -> Result<String> {
    let t = btf.get(id)?;
    let name = btf.name(t.name_off)?;
    let mut out = String::new();
    match t.kind {
        kind::STRUCT | kind::UNION => {
            let tag = if t.kind == kind::STRUCT {
                "struct"
            } else {
                "union"
            };
            let head = if name.is_empty() {
                tag.to_string()
            } else {
                format!("{tag} {name}")
            };
            let _ = writeln!(out, "{head} {{");
            for (member, ty, bits) in btf.members(id)? {
                let d = decl(btf, ty, member.to_string(), 1);
                let _ = writeln!(out, "\t{d}; /* offset {} */", bits / 8);
            }
            let _ = write!(out, "}};");
        }
        kind::ENUM => {
            let head = if name.is_empty() {
                "enum".to_string()
            } else {
                format!("enum {name}")
            };
            let _ = writeln!(out, "{head} {{");
            for i in 0..u32::from(t.vlen) {
                let (n, v) = match t.enumerator(i) {
                    Ok((name_off, v)) => (btf.name(name_off).unwrap_or("?"), v),
                    Err(_) => ("?", 0),
                };
                // A signed enum's values come sign-extended.
                let v = if t.kflag {
                    (v as i64).to_string()
                } else {
                    v.to_string()
                };
                let _ = writeln!(out, "\t{n} = {v},");
            }
            let _ = write!(out, "}};");
        }
        _ => out = declaration(btf, id, ""),
    }
    Ok(out)
}

/// The named structs and unions a type refers to directly or through
/// pointers, arrays, typedefs and qualifiers: those worth defining below a
/// map's one-line summary.
pub fn referenced_structs(btf: &Btf, id: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut id = id;
    for _ in 0..DEPTH {
        let Ok(t) = btf.get(id) else { break };
        match t.kind {
            kind::STRUCT | kind::UNION => {
                out.push(id);
                break;
            }
            kind::ARRAY => match btf.array(id) {
                Ok((elem, _)) => id = elem,
                Err(_) => break,
            },
            kind::PTR => id = t.size_or_type,
            _ if t.is_modifier() => id = t.size_or_type,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::object::btf::testing::{blob, info};

    /// Appends a record: `kind` as its number, then the kind-specific words.
    fn ty(
        out: &mut Vec<u32>,
        name_off: u32,
        kind: u8,
        vlen: u32,
        kflag: bool,
        size_or_type: u32,
        extra: &[u32],
    ) {
        out.extend([name_off, info(kind, vlen, kflag), size_or_type]);
        out.extend_from_slice(extra);
    }

    #[test]
    fn declarations_read_like_c() {
        // strings: 0 "", 1 "int", 5 "elem", 10 "key", 14 "val", 18 "char"
        let strings = b"\0int\0elem\0key\0val\0char\0";
        let mut t = Vec::new();
        ty(&mut t, 1, 1, 0, false, 4, &[(1 << 24) | 32]); // 1: int
        ty(&mut t, 18, 1, 0, false, 1, &[(1 << 24) | 8]); // 2: char
        ty(&mut t, 0, 3, 0, false, 0, &[2, 1, 41]); // 3: char[41]
        ty(&mut t, 0, 2, 0, false, 1, &[]); // 4: int *
        ty(&mut t, 0, 10, 0, false, 2, &[]); // 5: const char
        ty(&mut t, 0, 2, 0, false, 5, &[]); // 6: const char *
        ty(&mut t, 0, 3, 0, false, 0, &[1, 1, 4]); // 7: int[4]
        ty(&mut t, 0, 2, 0, false, 7, &[]); // 8: int (*)[4]
        ty(&mut t, 5, 4, 2, false, 48, &[10, 1, 0, 14, 3, 32]); // 9: struct elem
        ty(&mut t, 0, 13, 1, false, 1, &[10, 4]); // 10: int (int *key)
        ty(&mut t, 0, 2, 0, false, 10, &[]); // 11: pointer to it
        let btf = Btf::parse(&blob(&t, strings)).unwrap();
        assert_eq!(declaration(&btf, 1, "key"), "int key");
        assert_eq!(declaration(&btf, 3, ""), "char [41]");
        assert_eq!(declaration(&btf, 3, "fmt"), "char fmt[41]");
        assert_eq!(declaration(&btf, 4, "p"), "int *p");
        assert_eq!(declaration(&btf, 6, "s"), "const char *s");
        assert_eq!(declaration(&btf, 8, "a"), "int (*a)[4]");
        assert_eq!(declaration(&btf, 9, "v"), "struct elem v");
        assert_eq!(declaration(&btf, 11, "f"), "int (*f)(int *key)");
        assert_eq!(declaration(&btf, 0, "x"), "void x");
        assert_eq!(declaration(&btf, 99, "x"), "<bad type 99> x");
        assert_eq!(
            definition(&btf, 9).unwrap(),
            "struct elem {\n\tint key; /* offset 0 */\n\tchar val[41]; /* offset 4 */\n};"
        );
        assert_eq!(referenced_structs(&btf, 9), [9]);
        assert!(referenced_structs(&btf, 1).is_empty());
    }

    #[test]
    fn a_pointer_loop_stops() {
        let mut t = Vec::new();
        ty(&mut t, 0, 2, 0, false, 1, &[]); // 1: pointer to itself
        let btf = Btf::parse(&blob(&t, b"\0")).unwrap();
        let d = declaration(&btf, 1, "p");
        assert!(d.starts_with("... *"), "{d}");
        assert!(referenced_structs(&btf, 1).is_empty());
    }
}
