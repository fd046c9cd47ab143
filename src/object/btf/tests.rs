//! Hand-built BTF: map definitions of maps of maps and program arrays, and
//! hostile inputs that must fail (or succeed) in bounded time and memory.

use super::*;
use crate::object::elf::Object;
use crate::uapi::MapType;

mod map_values_tests {
    use super::*;

    /// A tiny BTF writer: enough types for map definitions.
    #[derive(Default)]
    struct Builder {
        types: Vec<u32>,
        strings: Vec<u8>,
        next_id: u32,
    }

    impl Builder {
        fn new() -> Builder {
            Builder {
                strings: vec![0],
                next_id: 1,
                ..Default::default()
            }
        }
        fn name(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }
        fn add(
            &mut self,
            name: &str,
            kind: u8,
            vlen: u32,
            size_or_type: u32,
            extra: &[u32],
        ) -> u32 {
            let n = self.name(name);
            self.types
                .extend([n, (u32::from(kind) << 24) | vlen, size_or_type]);
            self.types.extend_from_slice(extra);
            self.next_id += 1;
            self.next_id - 1
        }
        fn int(&mut self) -> u32 {
            self.add("int", kind::INT, 0, 4, &[32])
        }
        fn ptr(&mut self, to: u32) -> u32 {
            self.add("", kind::PTR, 0, to, &[])
        }
        /// `__uint(name, n)`: a pointer to an array of n ints.
        fn uint(&mut self, int: u32, n: u32) -> u32 {
            let arr = self.add("", kind::ARRAY, 0, 0, &[int, int, n]);
            self.ptr(arr)
        }
        fn strukt(&mut self, name: &str, members: &[(&str, u32)]) -> u32 {
            let mut extra = Vec::new();
            for (i, (m, ty)) in members.iter().enumerate() {
                let n = self.name(m);
                extra.extend([n, *ty, 64 * i as u32]);
            }
            self.add(
                name,
                kind::STRUCT,
                members.len() as u32,
                8 * members.len() as u32,
                &extra,
            )
        }
        /// A `.maps` DATASEC with one global VAR `name` of type `ty`.
        fn finish(mut self, name: &str, ty: u32) -> Btf {
            let var = self.add(name, kind::VAR, 0, ty, &[1]);
            self.add(".maps", kind::DATASEC, 1, 0, &[var, 0, 32]);
            let blob = crate::object::btf::testing::blob(&self.types, &self.strings);
            Btf::parse(&blob).unwrap()
        }
    }

    /// An outer map of `map_type` whose `values` point to `target(builder)`.
    fn outer(
        map_type: u32,
        target: impl FnOnce(&mut Builder, u32) -> u32,
    ) -> Result<Vec<BtfMapDef>> {
        outer_with_value(map_type, target, |_, _| None)
    }

    /// [`outer`], with a `__type(value, T)` member where `value` gives a T.
    fn outer_with_value(
        map_type: u32,
        target: impl FnOnce(&mut Builder, u32) -> u32,
        value: impl FnOnce(&mut Builder, u32) -> Option<u32>,
    ) -> Result<Vec<BtfMapDef>> {
        let mut b = Builder::new();
        let int = b.int();
        let pointee = target(&mut b, int);
        let ptr = b.ptr(pointee);
        let values = b.add("", kind::ARRAY, 0, 0, &[ptr, int, 0]);
        let ty = b.uint(int, map_type);
        let max = b.uint(int, 2);
        let key = b.ptr(int);
        let mut members = vec![("type", ty), ("max_entries", max), ("key", key)];
        if let Some(v) = value(&mut b, int) {
            members.push(("value", b.ptr(v)));
        }
        members.push(("values", values));
        let st = b.strukt("", &members);
        b.finish("outer", st).map_defs()
    }

    /// `__type(value, int)` beside `__array(values, ...)` spells the fd
    /// (libbpf accepts it); any other value type contradicts `values`.
    #[test]
    fn a_value_type_of_int_is_the_inner_maps_fd() {
        let int_value = |_: &mut Builder, int| Some(int);
        let defs = outer_with_value(MapType::ARRAY_OF_MAPS.0, inner_def, int_value).unwrap();
        assert_eq!(defs[0].value_size, 4);
        assert!(matches!(defs[0].values, Some(MapValues::Maps(_))));
        let typedef = |b: &mut Builder, int| Some(b.add("__s32", kind::TYPEDEF, 0, int, &[]));
        assert!(outer_with_value(MapType::HASH_OF_MAPS.0, inner_def, typedef).is_ok());
        let long = |b: &mut Builder, _| Some(b.add("long", kind::INT, 0, 8, &[(1 << 24) | 64]));
        let e = outer_with_value(MapType::ARRAY_OF_MAPS.0, inner_def, long).unwrap_err();
        assert!(e.to_string().contains("contradict"), "{e}");
        let four_bytes = |b: &mut Builder, int| Some(b.strukt("s", &[("a", int)]));
        let e = outer_with_value(MapType::ARRAY_OF_MAPS.0, inner_def, four_bytes).unwrap_err();
        assert!(e.to_string().contains("contradict"), "{e}");
    }

    fn inner_def(b: &mut Builder, int: u32) -> u32 {
        let ty = b.uint(int, MapType::ARRAY.0);
        let max = b.uint(int, 1);
        let key = b.ptr(int);
        let value = b.ptr(int);
        b.strukt(
            "inner",
            &[
                ("type", ty),
                ("max_entries", max),
                ("key", key),
                ("value", value),
            ],
        )
    }

    #[test]
    fn values_of_maps_give_the_inner_definition() {
        let defs = outer(MapType::ARRAY_OF_MAPS.0, inner_def).unwrap();
        let d = &defs[0];
        assert_eq!((d.key_size, d.value_size, d.values_offset), (4, 4, 24));
        let Some(MapValues::Maps(inner)) = &d.values else {
            panic!("{d:?}")
        };
        assert_eq!(
            (
                inner.map_type,
                inner.key_size,
                inner.value_size,
                inner.max_entries
            ),
            (2, 4, 4, 1)
        );
        assert_eq!(inner.name, "outer.inner");
    }

    #[test]
    fn values_of_functions_are_programs() {
        let defs = outer(MapType::PROG_ARRAY.0, |b, int| {
            b.add("", kind::FUNC_PROTO, 1, int, &[0, int])
        })
        .unwrap();
        assert_eq!(defs[0].values, Some(MapValues::Programs));
        assert_eq!(defs[0].value_size, 4);
    }

    #[test]
    fn values_that_do_not_fit_are_refused_by_name() {
        let e = outer(MapType::HASH.0, inner_def).unwrap_err().to_string();
        assert!(
            e.contains("map 'outer'") && e.contains("does not fit map type 1"),
            "{e}"
        );
        let e = outer(MapType::ARRAY_OF_MAPS.0, |b, int| {
            b.add("", kind::FUNC_PROTO, 0, int, &[])
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("does not fit"), "{e}");
        let e = outer(MapType::ARRAY_OF_MAPS.0, |_, int| int)
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a map definition nor a function"), "{e}");
        // An inner map that is itself a map of maps.
        let e = outer(MapType::ARRAY_OF_MAPS.0, |b, int| {
            let inner = inner_def(b, int);
            let p = b.ptr(inner);
            let values = b.add("", kind::ARRAY, 0, 0, &[p, int, 0]);
            let ty = b.uint(int, MapType::ARRAY_OF_MAPS.0);
            b.strukt("nested", &[("type", ty), ("values", values)])
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("inner map cannot itself hold"), "{e}");
    }
}

mod bounds_tests {
    //! Hostile inputs built by hand: each must give an error (or succeed)
    //! in bounded time and memory, never overflow the stack.
    use super::*;
    use std::time::{Duration, Instant};

    use crate::object::btf::testing::{blob, ext_with_func_info};

    fn info(kind: u8, vlen: u32) -> u32 {
        crate::object::btf::testing::info(kind, vlen, false)
    }

    #[test]
    fn an_array_of_itself_is_an_error_not_a_stack_overflow() {
        // 1: int; 2: array of 2 (itself), indexed by 1.
        let types = [
            0,
            info(kind::INT, 0),
            4,
            32,
            0,
            info(kind::ARRAY, 0),
            0,
            2,
            1,
            1,
        ];
        let btf = Btf::parse(&blob(&types, b"\0")).unwrap();
        let err = btf.size_of(2).unwrap_err().to_string();
        assert!(err.contains("deeper than"), "{err}");
        // A cycle through a modifier and an array: const -> array -> const.
        let types = [
            0,
            info(kind::INT, 0),
            4,
            32,
            0,
            info(kind::CONST, 0),
            3,
            0,
            info(kind::ARRAY, 0),
            0,
            2,
            1,
            7,
        ];
        let btf = Btf::parse(&blob(&types, b"\0")).unwrap();
        assert!(btf.size_of(2).is_err());
        assert!(btf.size_of(3).is_err());
    }

    #[test]
    fn overlapping_section_names_in_btf_ext_stay_linear() {
        // A 1 KiB name, and 100,000 func_info blocks each naming a
        // suffix of it: copying each name would take ~50 MB per 1.6 MB.
        let mut strings = vec![b'a'; MAX_NAME_LEN];
        strings.insert(0, 0);
        strings.push(0);
        let btf = Btf::parse(&blob(&[], &strings)).unwrap();
        let mut func = 8u32.to_le_bytes().to_vec();
        for i in 0..100_000u32 {
            func.extend_from_slice(&(1 + i % 16).to_le_bytes());
            func.extend_from_slice(&1u32.to_le_bytes());
            func.extend_from_slice(&[0; 8]);
        }
        let ext = ext_with_func_info(&func);
        let start = Instant::now();
        let err = BtfExt::parse(&ext, &btf).unwrap_err().to_string();
        assert!(err.contains("section names take more than"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn many_records_for_one_section_parse_in_linear_time() {
        let btf = Btf::parse(&blob(&[], b"\0prog\0")).unwrap();
        let n = 250_000u32;
        let mut func = 8u32.to_le_bytes().to_vec();
        func.extend_from_slice(&1u32.to_le_bytes());
        func.extend_from_slice(&n.to_le_bytes());
        for i in 0..n {
            func.extend_from_slice(&(i * 8).to_le_bytes());
            func.extend_from_slice(&1u32.to_le_bytes());
        }
        let ext = ext_with_func_info(&func);
        let parsed = BtfExt::parse(&ext, &btf).unwrap();
        assert_eq!(parsed.func_info["prog"].len(), n as usize);
    }

    #[test]
    fn sixty_thousand_globals_are_fixed_up_fast() {
        use crate::object::elf::{DataKind, Section, SectionKind, Symbol};
        let n = 60_000u32;
        // Strings: "\0.data\0" then "vN\0" per variable.
        let mut strings = b"\0.data\0".to_vec();
        let mut name_offs = Vec::new();
        for i in 0..n {
            name_offs.push(strings.len() as u32);
            strings.extend_from_slice(format!("v{i}\0").as_bytes());
        }
        // 1: int; 2..=n+1: global VARs; n+2: DATASEC .data.
        let mut types = vec![0, info(kind::INT, 0), 4, 32];
        for &off in &name_offs {
            types.extend_from_slice(&[off, info(kind::VAR, 0), 1, 1]);
        }
        types.extend_from_slice(&[1, info(kind::DATASEC, n), 0]);
        for i in 0..n {
            types.extend_from_slice(&[2 + i, 0, 4]);
        }
        let mut btf = Btf::parse(&blob(&types, &strings)).unwrap();
        let symbols = (0..n)
            .map(|i| Symbol {
                name: format!("v{i}"),
                section: Some(1),
                value: u64::from(n - 1 - i) * 4,
                size: 4,
                kind: 1,
                global: true,
                weak: false,
                hidden: false,
            })
            .collect();
        let obj = Object {
            sections: vec![Section {
                index: 1,
                name: ".data".into(),
                kind: SectionKind::Data(DataKind::Data),
                data: &[],
                size: u64::from(n) * 4,
                insns: Vec::new(),
            }],
            symbols,
            functions: Vec::new(),
            programs: Vec::new(),
            maps: Vec::new(),
            relocs: Default::default(),
            map_relocs: Vec::new(),
            license: Default::default(),
            btf: None,
            btf_ext: None,
        };
        let start = Instant::now();
        btf.fix_datasecs(&obj).unwrap();
        let took = start.elapsed();
        // Sorted by offset: the last variable comes first.
        let vars = btf.datasec_vars(n + 2).unwrap();
        assert_eq!(vars[0], (n + 1, 0, 4));
        assert_eq!(vars[(n - 1) as usize], (2, (n - 1) * 4, 4));
        assert!(took < Duration::from_secs(2), "fix-up took {took:?}");
    }
}
