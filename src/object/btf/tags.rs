//! BTF DECL_TAGs the loader acts on.
//!
//! clang records `__attribute__((btf_decl_tag("...")))` as DECL_TAG records
//! that name the tagged FUNC (or VAR, or member) and, with
//! `component_idx`, which of its parameters; they go to the kernel with the
//! rest of the object's BTF, untouched. Most are the kernel's business:
//! `__arg_ctx` ("arg:ctx", a parameter that is the program's context) is
//! read by the verifier itself (`btf_prepare_func_args`, 6.8 on).
//!
//! One asks something of the loader: `__exception_cb(cb)`, a tag
//! "exception_callback:cb" on a program's FUNC. The verifier looks for the
//! FUNC `cb` among the program's func_info and starts a subprogram there
//! (`bpf_find_exception_callback_insn_off` in kernel/bpf/verifier.c:
//! "exception callback type id not found in func_info" otherwise). Nothing
//! calls the callback, so the loader must append it to the program itself,
//! as libbpf does (`bpf_prog_assign_exc_cb`).

use super::types::kind;
use super::{btf_err, Btf};
use crate::error::Result;

/// The prefix of the tag `__exception_cb(name)` writes.
pub const EXCEPTION_CALLBACK: &str = "exception_callback:";

/// `BTF_FUNC_GLOBAL`.
const FUNC_GLOBAL: u16 = 1;

/// Every `__exception_cb` tag of an object, gathered in one pass over its
/// BTF: asked once per program, a pass each would be quadratic.
#[derive(Debug, Default)]
pub struct ExceptionTags(Vec<ExceptionTag>);

/// One "exception_callback:NAME" DECL_TAG on a FUNC.
#[derive(Debug)]
struct ExceptionTag {
    /// The tagged FUNC's name.
    func: String,
    /// Whether that FUNC has global linkage (a program's has).
    global: bool,
    /// NAME.
    callback: String,
}

impl Btf {
    /// The `__exception_cb` tags on functions (DECL_TAGs on a whole FUNC,
    /// not a parameter).
    pub fn exception_tags(&self) -> Result<ExceptionTags> {
        let mut tags = Vec::new();
        for id in self.ids_of_kind(kind::DECL_TAG) {
            let t = self.get(id)?;
            if t.component_idx()? != -1 {
                continue;
            }
            let Some(callback) = self.name(t.name_off)?.strip_prefix(EXCEPTION_CALLBACK) else {
                continue;
            };
            let func = self.get(t.size_or_type)?;
            if func.kind == kind::FUNC {
                tags.push(ExceptionTag {
                    func: self.name(func.name_off)?.to_string(),
                    global: func.vlen == FUNC_GLOBAL,
                    callback: callback.to_string(),
                });
            }
        }
        Ok(ExceptionTags(tags))
    }

    /// The name of the exception callback the program `prog` names with
    /// `__exception_cb(name)`, if any (see [`ExceptionTags::of`]).
    pub fn exception_callback(&self, prog: &str) -> Result<Option<String>> {
        self.exception_tags()?.of(prog)
    }
}

impl ExceptionTags {
    /// The name of the exception callback the program `prog` names: the
    /// DECL_TAG "exception_callback:NAME" on the declaration of the global
    /// FUNC `prog`. Two such tags on one program are the kernel's to refuse
    /// ("multiple exception callback tags"); the last is taken. An empty
    /// name, or a tag on a function that is not global, is an error.
    pub fn of(&self, prog: &str) -> Result<Option<String>> {
        let Some(tag) = self.0.iter().rev().find(|t| t.func == prog) else {
            return Ok(None);
        };
        if !tag.global {
            return Err(btf_err(format!(
                "{EXCEPTION_CALLBACK} tag on '{prog}', which is not a global function (a program)"
            )));
        }
        if tag.callback.is_empty() {
            return Err(btf_err(format!(
                "program '{prog}': the {EXCEPTION_CALLBACK} tag names no function"
            )));
        }
        Ok(Some(tag.callback.clone()))
    }
}
