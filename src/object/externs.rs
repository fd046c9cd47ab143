//! Step 4: extern variables and functions, values the object asks the
//! loader for.
//!
//! A BPF program may declare things it does not define, and leave them to the
//! loader (libbpf's conventions, which clang's BTF carries):
//!
//! - `extern int CONFIG_HZ __kconfig;`, `extern unsigned LINUX_KERNEL_VERSION
//!   __kconfig;`: values of the running kernel's configuration. clang puts
//!   them in a BTF DATASEC `.kconfig` that has no ELF section; the loader lays
//!   them out in one read-only, frozen ARRAY map named `.kconfig` and points
//!   each `ld_imm64` at its value, so the verifier reads them as constants and
//!   prunes `if (CONFIG_X)` branches. `CONFIG_*` come from
//!   `/boot/config-$(uname -r)`, else `/proc/config.gz`; `LINUX_*` from the
//!   loader itself.
//! - `extern const int bpf_prog_active __ksym;` (a *typed* ksym): a kernel
//!   variable named in the kernel's BTF; the ld_imm64 becomes
//!   `BPF_PSEUDO_BTF_ID` with the VAR's id in vmlinux, and the kernel knows
//!   its type. `extern const void sym __ksym;` (*typeless*): only an address,
//!   from `/proc/kallsyms`.
//! - `extern void bpf_rcu_read_lock(void) __ksym;` (a kfunc): a kernel
//!   function the kernel allows BPF to call; the call becomes
//!   `BPF_PSEUDO_KFUNC_CALL` with the FUNC's BTF id in vmlinux.
//!
//! `__weak` externs may be missing: they read as zero (kconfig, ksyms) or
//! their calls are poisoned so the verifier objects only if one is reached.
//! A missing non-weak extern is an error naming it.
//!
//! The kernel rules this serves: an extern VAR or FUNC is refused in loaded
//! BTF (`btf_var_check_meta`, `btf_func_check_meta`), so [`Externs::fix_btf`]
//! rewrites them; a BPF_PSEUDO_BTF_ID load must name a VAR of the kernel's
//! BTF (`check_pseudo_btf_id`), and a kfunc call a FUNC the kernel allows
//! BPF to call (`add_kfunc_call`, `check_kfunc_call`).
//!
//! Everything here is pure: [`Externs::collect`] and [`Externs::fix_btf`]
//! read the object, and [`resolve`] asks a [`Sources`] for the kernel's
//! answers. The running kernel's sources are
//! [`crate::kernel::externs`], read only when the object has externs, so
//! objects without externs never touch those files.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::object::btf::types::{INT_BOOL, INT_CHAR};
use crate::object::btf::{kind, Btf};
use crate::object::elf::Object;
use crate::object::maps::{MapSource, MapSpec, MAP_TYPE_ARRAY};
use crate::sys::{MapCreateAttr, MapFlags};

#[cfg(test)]
mod tests;

/// The DATASEC clang gives to `__kconfig` externs (kernel configuration values).
pub const KCONFIG_SEC: &str = ".kconfig";
/// The DATASEC of `__ksym` externs (kernel variables and kfuncs).
pub const KSYMS_SEC: &str = ".ksyms";

/// The C type of a `.kconfig` extern, which decides how a config value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KconfigType {
    /// `bool`: y is 1, n is 0.
    Bool,
    /// `enum libbpf_tristate`: n 0, y 1, m 2.
    Tristate,
    /// `char`: the letter itself (`'y'`, `'n'`, `'m'`).
    Char,
    /// An integer of 1, 2, 4 or 8 bytes.
    Int {
        /// The size in bytes.
        size: u32,
        /// Whether the C type is signed.
        signed: bool,
    },
    /// `char[len]`: a NUL-terminated string value.
    Str {
        /// The array's length in bytes, the NUL included.
        len: u32,
    },
}

impl KconfigType {
    fn size(self) -> u32 {
        match self {
            KconfigType::Bool | KconfigType::Char => 1,
            KconfigType::Tristate => 4,
            KconfigType::Int { size, .. } => size,
            KconfigType::Str { len } => len,
        }
    }

    fn align(self) -> u32 {
        match self {
            KconfigType::Str { .. } => 1,
            other => other.size(),
        }
    }
}

/// The most `.kconfig` bytes an object may ask for: far more than any real
/// set of config values (strings included), and a bound on what a bogus
/// `char CONFIG_X[4000000000]` could make us allocate.
pub const KCONFIG_MAX: u32 = 1 << 20;

/// What kind of extern a symbol is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A `.kconfig` value at `byte` of the `.kconfig` map's value.
    Kconfig {
        /// The C type, which decides how the value is stored.
        ty: KconfigType,
        /// The value's offset in the `.kconfig` map's value.
        byte: u32,
    },
    /// A `.ksyms` variable; `typed` when its BTF type is not `void`.
    Ksym {
        /// Typed (by BTF id in the kernel) rather than an address from kallsyms.
        typed: bool,
    },
    /// A `.ksyms` function (kfunc).
    Kfunc,
}

/// One extern of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extern {
    /// The symbol's name.
    pub name: String,
    /// Kconfig value, ksym or kfunc.
    pub kind: ExternKind,
    /// Declared `__weak`: it may be missing from the kernel.
    pub weak: bool,
    /// The VAR or FUNC in the object's BTF.
    pub btf_id: u32,
}

/// Every extern of an object and the layout of its `.kconfig` map.
#[derive(Clone, Debug, Default)]
pub struct Externs {
    /// The externs, in symbol-table order.
    pub list: Vec<Extern>,
    /// Size of the `.kconfig` map's value (0: no kconfig externs).
    pub kconfig_size: u32,
}

fn extern_err(name: &str, what: impl std::fmt::Display) -> Error {
    Error::Extern {
        name: name.to_string(),
        what: what.to_string(),
    }
}

impl Externs {
    /// Whether the object has no externs at all.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Finds every undefined global symbol and its declaration in BTF.
    pub fn collect(obj: &Object<'_>, btf: Option<&Btf>) -> Result<Externs> {
        let mut out = Externs::default();
        for sym in &obj.symbols {
            if sym.section.is_some() || !sym.global || sym.name.is_empty() {
                continue;
            }
            if out.list.iter().any(|e| e.name == sym.name) {
                continue;
            }
            let btf = btf.ok_or_else(|| {
                extern_err(
                    &sym.name,
                    "externs are declared through BTF, but the object has no .BTF (compile with clang -g)",
                )
            })?;
            let (sec, btf_id) = find_declaration(btf, &sym.name)?;
            let decl = btf.get(btf_id)?;
            let kind = match (sec.as_str(), decl.kind) {
                (KCONFIG_SEC, kind::VAR) => ExternKind::Kconfig {
                    ty: kconfig_type(btf, &sym.name, decl.size_or_type)?,
                    byte: 0,
                },
                (KSYMS_SEC, kind::VAR) => ExternKind::Ksym {
                    typed: is_typed(btf, decl.size_or_type)?,
                },
                (KSYMS_SEC, kind::FUNC) => ExternKind::Kfunc,
                (sec, _) => {
                    return Err(extern_err(
                        &sym.name,
                        format!(
                            "declared in DATASEC '{sec}', neither {KCONFIG_SEC} nor {KSYMS_SEC}"
                        ),
                    ))
                }
            };
            out.list.push(Extern {
                name: sym.name.clone(),
                kind,
                weak: sym.weak,
                btf_id,
            });
        }
        out.layout_kconfig()?;
        Ok(out)
    }

    /// Places the kconfig externs one after the other, each aligned to its
    /// size (libbpf's layout): their byte offsets in the `.kconfig` value.
    fn layout_kconfig(&mut self) -> Result<()> {
        let mut end = 0u32;
        for e in &mut self.list {
            if let ExternKind::Kconfig { ty, byte } = &mut e.kind {
                let align = ty.align().max(1);
                let placed = end
                    .div_ceil(align)
                    .checked_mul(align)
                    .and_then(|at| Some((at, at.checked_add(ty.size())?)))
                    .filter(|&(_, new_end)| new_end <= KCONFIG_MAX);
                let (at, new_end) = placed.ok_or_else(|| {
                    extern_err(
                        &e.name,
                        format!("the .kconfig values would exceed {KCONFIG_MAX} bytes"),
                    )
                })?;
                (*byte, end) = (at, new_end);
            }
        }
        self.kconfig_size = end;
        Ok(())
    }

    fn by_btf_id(&self, id: u32) -> Option<&Extern> {
        self.list.iter().find(|e| e.btf_id == id)
    }

    /// Makes the `.kconfig` and `.ksyms` DATASECs acceptable to the kernel,
    /// which knows no extern VARs (`btf_var_check_meta`), no extern FUNCs and
    /// no FUNC inside a DATASEC (`btf_datasec_check_meta`). As libbpf does:
    /// `.kconfig` VARs become allocated globals at their offsets in the map;
    /// `.ksyms` VARs become 4-byte ints and its FUNCs global functions, each
    /// DATASEC entry then a 4-byte VAR (one shared dummy for the FUNCs).
    pub fn fix_btf(&self, btf: &mut Btf) -> Result<()> {
        const GLOBAL: u32 = 1;
        for sec_name in [KCONFIG_SEC, KSYMS_SEC] {
            // An object without such externs has no such DATASEC: nothing to fix.
            let Some(sec) = btf.find(kind::DATASEC, sec_name) else {
                continue;
            };
            let mut entries = btf.datasec_vars(sec)?;
            let mut dummy = None;
            let mut end = 0u32;
            for (i, (var, byte, size)) in entries.iter_mut().enumerate() {
                let t = btf.get(*var)?;
                if sec_name == KCONFIG_SEC {
                    let e = self.by_btf_id(*var);
                    let Some(ExternKind::Kconfig { ty, byte: at }) = e.map(|e| e.kind) else {
                        // Every .kconfig VAR clang emits has its undefined symbol.
                        return Err(Error::Btf(format!(
                            "VAR {} in {KCONFIG_SEC} is not an extern of the object",
                            btf.type_name(*var).unwrap_or("?")
                        )));
                    };
                    btf.set_var_linkage(*var, GLOBAL)?;
                    (*byte, *size) = (at, ty.size());
                    continue;
                }
                if t.kind == kind::VAR {
                    let int = btf.int_type(4)?;
                    btf.set_var_type(*var, int)?;
                    btf.set_var_linkage(*var, GLOBAL)?;
                } else if t.kind == kind::FUNC {
                    let d = match dummy {
                        Some(d) => d,
                        None => {
                            let int = btf.int_type(4)?;
                            let d = btf.push_var("__rawbpf_ksym_func", int, GLOBAL)?;
                            dummy = Some(d);
                            d
                        }
                    };
                    btf.set_func_linkage(*var, GLOBAL as u16)?;
                    btf.name_unnamed_params(*var, btf.get(d)?.name_off)?;
                    *var = d;
                } else {
                    return Err(Error::Btf(format!(
                        "entry {i} of {KSYMS_SEC} is neither a VAR nor a FUNC"
                    )));
                }
                (*byte, *size) = (4 * i as u32, 4);
                end = 4 * (i as u32 + 1);
            }
            let size = if sec_name == KCONFIG_SEC {
                self.kconfig_size
            } else {
                end
            };
            entries.sort_unstable_by_key(|&(_, byte, _)| byte);
            btf.set_datasec(sec, size, &entries)?;
        }
        Ok(())
    }
}

/// The DATASEC and BTF id of the extern VAR or FUNC named `name`.
fn find_declaration(btf: &Btf, name: &str) -> Result<(String, u32)> {
    for sec_name in [KCONFIG_SEC, KSYMS_SEC] {
        let Some(sec) = btf.find(kind::DATASEC, sec_name) else {
            continue;
        };
        for (id, _, _) in btf.datasec_vars(sec)? {
            if btf.type_name(id)? == name {
                return Ok((sec_name.to_string(), id));
            }
        }
    }
    Err(extern_err(
        name,
        format!(
            "undefined symbol that is neither a __kconfig nor a __ksym extern (no VAR or FUNC of that name in BTF DATASEC {KCONFIG_SEC} or {KSYMS_SEC})"
        ),
    ))
}

/// Whether a `.ksyms` VAR's type is more than `void` (typed ksym).
fn is_typed(btf: &Btf, type_id: u32) -> Result<bool> {
    if type_id == 0 {
        return Ok(false);
    }
    Ok(btf.resolve_or_void(type_id)? != 0)
}

/// How a `.kconfig` VAR of BTF type `type_id` is stored (libbpf's rules).
fn kconfig_type(btf: &Btf, name: &str, type_id: u32) -> Result<KconfigType> {
    let id = btf.resolve(type_id)?;
    let t = btf.get(id)?;
    let bad = || {
        extern_err(
            name,
            "a __kconfig extern must be bool, char, enum libbpf_tristate, an integer of 1, 2, 4 or 8 bytes, or a char array",
        )
    };
    match t.kind {
        kind::INT => {
            let int = t.int()?;
            let size = t.size_or_type;
            if int.encoding & INT_BOOL != 0 && size == 1 {
                Ok(KconfigType::Bool)
            } else if int.encoding & INT_CHAR != 0 && size == 1 {
                Ok(KconfigType::Char)
            } else if matches!(size, 1 | 2 | 4 | 8) && int.bits == 8 * size {
                Ok(KconfigType::Int {
                    size,
                    signed: int.signed(),
                })
            } else {
                Err(bad())
            }
        }
        kind::ENUM if t.size_or_type == 4 && btf.type_name(id)? == "libbpf_tristate" => {
            Ok(KconfigType::Tristate)
        }
        kind::ARRAY => {
            let (elem, len) = btf.array(id)?;
            let elem = btf.resolve(elem)?;
            let e = btf.get(elem)?;
            if e.kind == kind::INT && e.size_or_type == 1 && len > 0 {
                Ok(KconfigType::Str { len })
            } else {
                Err(bad())
            }
        }
        _ => Err(bad()),
    }
}

// ---------------------------------------------------------------------------
// Resolution: the kernel-facing half.

/// How one extern was resolved; what the relocation step writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A `.kconfig` value at `byte` of the `.kconfig` map's value.
    Kconfig {
        /// The value's offset in the `.kconfig` map's value.
        byte: u32,
    },
    /// A kfunc: BTF id in vmlinux (`fd_array_index` 0) or in the module BTF
    /// at that index of the load's `fd_array`.
    Kfunc {
        /// The FUNC's BTF id in vmlinux or in its module's BTF.
        btf_id: u32,
        /// The call's `off`: the module BTF's index in `fd_array`, 0 for vmlinux.
        fd_array_index: i16,
    },
    /// A typed ksym: the VAR's BTF id, in vmlinux (`btf_obj_fd` 0) or a module.
    TypedKsym {
        /// The VAR's BTF id in vmlinux or in its module's BTF.
        btf_id: u32,
        /// The module's BTF fd for the `ld_imm64`'s second `imm`, 0 for vmlinux.
        btf_obj_fd: RawFd,
    },
    /// A typeless ksym's address from /proc/kallsyms.
    Address(u64),
    /// A weak ksym or kfunc the kernel does not have; `number` tells poisoned
    /// calls apart.
    Missing {
        /// The extern's index in [`Externs::list`].
        number: u32,
    },
}

/// Every extern's resolution, and the `.kconfig` map's value.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Each extern's resolution, by symbol name.
    pub by_name: BTreeMap<String, Resolution>,
    /// The `.kconfig` map's value (empty: no map).
    pub kconfig: Vec<u8>,
    /// BPF_PROG_LOAD's `fd_array` for module kfuncs; index 0 unused.
    pub fd_array: Vec<RawFd>,
    /// The module BTF objects `fd_array` and typed ksyms refer to.
    pub module_fds: Vec<OwnedFd>,
    /// The module of each entry of `module_fds`.
    pub module_names: Vec<String>,
}

impl Resolved {
    /// The resolution of the extern `name`.
    pub fn get(&self, name: &str) -> Option<&Resolution> {
        self.by_name.get(name)
    }
}

/// Where the host's answers come from; [`crate::kernel::externs::Host`]
/// reads the real files, tests
/// hand in their own.
pub trait Sources {
    /// `uname -r`.
    fn kernel_release(&mut self) -> Result<String>;
    /// The kernel configuration text (`CONFIG_X=y` lines).
    fn kernel_config(&mut self) -> Result<String>;
    /// The BTF id of the kernel VAR or FUNC `name` (`btf_kind`), if any, in
    /// vmlinux or a module.
    fn kernel_btf_id(&mut self, btf_kind: u8, name: &str) -> Result<Option<KernelBtfId>>;
    /// The kernel's BTF object of a module, for `fd_array` and typed ksyms.
    fn module_btf_fd(&mut self, module: &str) -> Result<OwnedFd>;
    /// The address of `name` in /proc/kallsyms, if it is there.
    fn kallsyms_address(&mut self, name: &str) -> Result<Option<u64>>;
}

/// Where a kernel type lives: its id, and the module whose BTF has it
/// (None: vmlinux). Module type ids continue vmlinux's numbering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelBtfId {
    /// The type's BTF id.
    pub id: u32,
    /// The module whose BTF has the type; None for vmlinux.
    pub module: Option<String>,
}

/// A module BTF's index in `fd_array` and its fd.
type ModuleSlot = (i16, RawFd);

impl Resolved {
    /// The kernel's BTF id of `name` (of BTF kind `btf_kind`), and, when a
    /// module's BTF has it, that BTF's `fd_array` index and fd.
    fn kernel_btf_id(
        &mut self,
        btf_kind: u8,
        name: &str,
        sources: &mut dyn Sources,
    ) -> Result<Option<(u32, Option<ModuleSlot>)>> {
        let Some(found) = sources.kernel_btf_id(btf_kind, name)? else {
            return Ok(None);
        };
        let module = match &found.module {
            Some(m) => Some(self.module_slot(m, sources)?),
            None => None,
        };
        Ok(Some((found.id, module)))
    }

    /// The `fd_array` index and fd of a module's BTF, opened once per module.
    fn module_slot(&mut self, module: &str, sources: &mut dyn Sources) -> Result<ModuleSlot> {
        if let Some(i) = self.module_names.iter().position(|m| m == module) {
            return Ok(((i + 1) as i16, self.fd_array[i + 1]));
        }
        let fd = sources.module_btf_fd(module)?;
        if self.fd_array.is_empty() {
            // Index 0 means vmlinux; the kernel never reads that slot.
            self.fd_array.push(0);
        }
        let index = i16::try_from(self.fd_array.len())
            .map_err(|_| Error::Env("too many kernel modules for fd_array".into()))?;
        self.fd_array.push(fd.as_raw_fd());
        self.module_names.push(module.to_string());
        self.module_fds.push(fd);
        Ok((index, self.fd_array[index as usize]))
    }
}

/// Resolves every extern against `sources`: each kind from where the
/// kernel keeps it (its configuration, its BTF, kallsyms).
pub fn resolve(externs: &Externs, sources: &mut dyn Sources) -> Result<Resolved> {
    let mut out = Resolved {
        kconfig: vec![0; externs.kconfig_size as usize],
        ..Default::default()
    };
    let mut config = Config::default();
    for (number, e) in externs.list.iter().enumerate() {
        // A weak extern the kernel lacks reads as 0 or is poisoned.
        let missing = |what: &str| {
            if e.weak {
                Ok(Resolution::Missing {
                    number: number as u32,
                })
            } else {
                Err(extern_err(&e.name, what))
            }
        };
        let resolution = match e.kind {
            ExternKind::Kconfig { ty, byte } => {
                let slot = &mut out.kconfig[byte as usize..(byte + ty.size()) as usize];
                store_config_value(e, ty, slot, &mut config, sources)?;
                Resolution::Kconfig { byte }
            }
            ExternKind::Kfunc => match out.kernel_btf_id(kind::FUNC, &e.name, sources)? {
                Some((btf_id, module)) => Resolution::Kfunc {
                    btf_id,
                    fd_array_index: module.map_or(0, |(index, _)| index),
                },
                None => missing(KFUNC_NOT_FOUND)?,
            },
            ExternKind::Ksym { typed: true } => {
                match out.kernel_btf_id(kind::VAR, &e.name, sources)? {
                    Some((btf_id, module)) => Resolution::TypedKsym {
                        btf_id,
                        btf_obj_fd: module.map_or(0, |(_, fd)| fd),
                    },
                    None => missing(KSYM_NOT_FOUND)?,
                }
            }
            ExternKind::Ksym { typed: false } => match sources.kallsyms_address(&e.name)? {
                Some(address) => Resolution::Address(address),
                None => missing("kernel symbol not found in /proc/kallsyms")?,
            },
        };
        out.by_name.insert(e.name.clone(), resolution);
    }
    Ok(out)
}

/// The kernel configuration, read on the first `CONFIG_*` extern (or the
/// error reading it gave).
#[derive(Default)]
struct Config(Option<Result<BTreeMap<String, String>>>);

/// A `.kconfig` extern's value, stored into its `slot` of the map's value:
/// `CONFIG_*` from the configuration, `LINUX_*` from the loader itself. A
/// missing weak one stays 0.
fn store_config_value(
    e: &Extern,
    ty: KconfigType,
    slot: &mut [u8],
    config: &mut Config,
    sources: &mut dyn Sources,
) -> Result<()> {
    let value = if e.name.starts_with("CONFIG_") {
        let config = config
            .0
            .get_or_insert_with(|| sources.kernel_config().map(|text| parse_config(&text)));
        match config {
            Ok(c) => c.get(&e.name).cloned(),
            Err(_) if e.weak => None,
            Err(err) => {
                return Err(extern_err(
                    &e.name,
                    format!("no kernel configuration to read it from: {err}"),
                ))
            }
        }
    } else {
        linux_value(&e.name, sources)?
    };
    match value {
        Some(v) => store_kconfig(&e.name, ty, &v, slot),
        None if e.weak => Ok(()),
        None => Err(missing_kconfig(&e.name)),
    }
}

const KSYM_NOT_FOUND: &str = "kernel variable not found in the kernel's BTF (/sys/kernel/btf/*)";
const KFUNC_NOT_FOUND: &str =
    "kernel function (kfunc) not found in the kernel's BTF (/sys/kernel/btf/*)";

fn missing_kconfig(name: &str) -> Error {
    if name.starts_with("CONFIG_") {
        return extern_err(
            name,
            "not in the kernel configuration (declare it __weak to read 0 instead)",
        );
    }
    extern_err(
        name,
        "a __kconfig extern is CONFIG_* or one of LINUX_KERNEL_VERSION, \
         LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER",
    )
}

/// The values libbpf provides itself, as config-style strings.
fn linux_value(name: &str, sources: &mut dyn Sources) -> Result<Option<String>> {
    Ok(match name {
        "LINUX_KERNEL_VERSION" => Some(kernel_version(&sources.kernel_release()?).to_string()),
        // bpf_get_attach_cookie() arrived in 5.15 for every program type
        // that has it; the version says it without a probe.
        "LINUX_HAS_BPF_COOKIE" => {
            let has = kernel_version(&sources.kernel_release()?) >= (5 << 16) + (15 << 8);
            Some(if has { "y" } else { "n" }.to_string())
        }
        // Syscalls go through wrappers (`__x64_sys_*`) when the arch's
        // wrapper symbol of bpf() itself is there.
        "LINUX_HAS_SYSCALL_WRAPPER" => {
            let wrapper = format!("{}sys_bpf", syscall_prefix());
            let has = sources.kallsyms_address(&wrapper)?.is_some();
            Some(if has { "y" } else { "n" }.to_string())
        }
        _ => None,
    })
}

fn syscall_prefix() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "__x64_"
    } else if cfg!(target_arch = "aarch64") {
        "__arm64_"
    } else if cfg!(target_arch = "s390x") {
        "__s390x_"
    } else {
        "__se_"
    }
}

/// `KERNEL_VERSION(a, b, c)` of a release string such as "6.1.0-27-amd64",
/// the sub-level capped at 255 as the kernel does.
pub fn kernel_version(release: &str) -> u32 {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0).min(255),
        parts.next().unwrap_or(0).min(255),
        parts.next().unwrap_or(0).min(255),
    );
    (a << 16) | (b << 8) | c
}

/// `CONFIG_X=value` lines into a map; "# CONFIG_X is not set" reads as n.
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") {
                    out.insert(name.to_string(), "n".to_string());
                }
            }
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            if name.starts_with("CONFIG_") {
                out.insert(name.to_string(), value.to_string());
            }
        }
    }
    out
}

/// Stores config `value` into the extern's bytes as its type wants.
fn store_kconfig(name: &str, ty: KconfigType, value: &str, slot: &mut [u8]) -> Result<()> {
    let tri = match value {
        "y" => Some(1u8),
        "n" => Some(0),
        "m" => Some(2),
        _ => None,
    };
    match ty {
        KconfigType::Bool => match tri {
            Some(2) => Err(extern_err(
                name,
                "value 'm' (a module) does not fit a bool; declare it enum libbpf_tristate",
            )),
            Some(v) => {
                slot[0] = v;
                Ok(())
            }
            None => Err(extern_err(name, format!("value '{value}' is not y or n"))),
        },
        KconfigType::Tristate => {
            let v =
                tri.ok_or_else(|| extern_err(name, format!("value '{value}' is not y, n or m")))?;
            slot.copy_from_slice(&u32::from(v).to_ne_bytes());
            Ok(())
        }
        KconfigType::Char => {
            if tri.is_none() {
                return Err(extern_err(
                    name,
                    format!("value '{value}' is not y, n or m"),
                ));
            }
            slot[0] = value.as_bytes()[0];
            Ok(())
        }
        KconfigType::Int { size, signed } => {
            let v = parse_int(value)
                .ok_or_else(|| extern_err(name, format!("value '{value}' is not a number")))?;
            let bits = 8 * size;
            let fits = if signed {
                bits == 64 || (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&v)
            } else {
                (0..(1i128 << bits)).contains(&v)
                    || (bits == 64 && (-(1i128 << 63)..0).contains(&v))
            };
            if !fits {
                return Err(extern_err(
                    name,
                    format!("value {value} does not fit {size} bytes"),
                ));
            }
            slot.copy_from_slice(&(v as u64).to_ne_bytes()[..size as usize]);
            Ok(())
        }
        KconfigType::Str { len } => {
            let s = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| extern_err(name, format!("value {value} is not a quoted string")))?;
            // Like libbpf: a longer string is cut, and the last byte stays NUL.
            let n = s.len().min(len as usize - 1);
            slot[..n].copy_from_slice(&s.as_bytes()[..n]);
            Ok(())
        }
    }
}

/// A config number: decimal, or hex with 0x, possibly negative.
fn parse_int(value: &str) -> Option<i128> {
    let (neg, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    Some(if neg { -i128::from(v) } else { i128::from(v) })
}

/// The `.kconfig` map: one read-only (for programs), frozen ARRAY entry
/// holding `value`, as libbpf creates it.
pub fn kconfig_map_spec(value: &[u8]) -> MapSpec<'_> {
    let attr = MapCreateAttr {
        map_type: MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: value.len() as u32,
        max_entries: 1,
        map_flags: MapFlags::RDONLY_PROG.bits(),
        map_name: crate::sys::object_name(KCONFIG_SEC),
        ..Default::default()
    };
    MapSpec {
        initial: Some(value.into()),
        freeze: true,
        ..MapSpec::new(KCONFIG_SEC, MapSource::Kconfig, attr)
    }
}
