//! The running kernel as the source of extern values: its release, its
//! configuration (`/boot/config-$(uname -r)` or `/proc/config.gz`), its BTF
//! (for ksyms and kfuncs) and `/proc/kallsyms`, each read at most once and
//! only when the object asks ([`crate::object::externs`] says what for).
//! The parsers of what the kernel publishes live with their reader:
//! [`gunzip`] for `/proc/config.gz` (`kernel/configs.c` serves it gzipped),
//! [`kallsyms_lookup`] for `/proc/kallsyms` (`kernel/kallsyms.c`'s
//! `s_show`).

mod inflate;
#[cfg(test)]
mod tests;

use std::os::fd::OwnedFd;

use crate::error::{Error, Result};
use crate::kernel::btf::KernelBtf;
use crate::object::externs::{self, ExternKind, Externs, KernelBtfId, Resolved, Sources};
pub use inflate::gunzip;

/// Resolves `externs` against the running kernel; an object without
/// externs reads nothing (the seed never reads the kernel's config, BTF or
/// kallsyms).
pub fn resolve(externs: &Externs) -> Result<Resolved> {
    resolve_with(externs, None)
}

/// [`resolve`], with the kernel's BTF already read by the caller for (at
/// least) the names [`btf_names`] gives: one pass over it for a whole load.
pub fn resolve_with(externs: &Externs, vmlinux: Option<&KernelBtf>) -> Result<Resolved> {
    if externs.is_empty() {
        return Ok(Resolved::default());
    }
    let mut host = Host::new(externs);
    host.shared = vmlinux;
    externs::resolve(externs, &mut host)
}

/// The names the externs look up in the kernel's BTF: ksyms and kfuncs.
pub fn btf_names(externs: &Externs) -> Vec<String> {
    externs
        .list
        .iter()
        .filter(|e| matches!(e.kind, ExternKind::Ksym { .. } | ExternKind::Kfunc))
        .map(|e| e.name.clone())
        .collect()
}

/// The running kernel: uname, its config file, /sys/kernel/btf/vmlinux and
/// /proc/kallsyms, each read at most once and only when asked.
#[derive(Default)]
pub struct Host<'k> {
    /// The `.ksyms` names, variables and kfuncs alike: what the kernel's
    /// BTF is read for.
    ksyms: Vec<String>,
    /// The kernel's BTF as the loader read it, indexed for `ksyms` (and
    /// more): asked first.
    shared: Option<&'k KernelBtf>,
    /// The kernel's BTF, indexed for `ksyms` only (the lean reader, which
    /// finds no other name: a name asked for later is indexed anew).
    vmlinux: Option<KernelBtf>,
    kallsyms: Option<String>,
}

impl Host<'_> {
    /// The running kernel, for the externs of one object.
    pub fn new(externs: &Externs) -> Host<'static> {
        Host {
            ksyms: btf_names(externs),
            ..Host::default()
        }
    }
}

/// Files bigger than this are not a config or kallsyms we want to hold.
const READ_LIMIT: u64 = 64 << 20;

fn read_limited(path: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(READ_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

impl Sources for Host<'_> {
    fn kernel_release(&mut self) -> Result<String> {
        const PATH: &str = "/proc/sys/kernel/osrelease";
        let bytes = read_limited(PATH)?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_string())
    }

    fn kernel_config(&mut self) -> Result<String> {
        let boot = format!("/boot/config-{}", self.kernel_release()?);
        match read_limited(&boot) {
            Ok(bytes) => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        const GZ: &str = "/proc/config.gz";
        let gz = read_limited(GZ).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => Error::Env(format!(
                "neither {boot} nor {GZ} (CONFIG_IKCONFIG_PROC) exists"
            )),
            _ => e,
        })?;
        let text =
            gunzip(&gz, READ_LIMIT as usize).map_err(|what| Error::Env(format!("{GZ}: {what}")))?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    fn kernel_btf_id(&mut self, btf_kind: u8, name: &str) -> Result<Option<KernelBtfId>> {
        let known = self.ksyms.iter().any(|k| k == name);
        if let (true, Some(vmlinux)) = (known, self.shared) {
            return kernel_btf_id(vmlinux, btf_kind, name);
        }
        // The lean reader knows only the names it indexed: one it was not
        // built for (a caller's own question) means indexing again.
        if !known {
            self.ksyms.push(name.to_string());
            self.vmlinux = None;
        }
        if self.vmlinux.is_none() {
            self.vmlinux = Some(KernelBtf::vmlinux(&self.ksyms)?);
        }
        let Some(vmlinux) = &self.vmlinux else {
            return Ok(None);
        };
        kernel_btf_id(vmlinux, btf_kind, name)
    }

    fn module_btf_fd(&mut self, module: &str) -> Result<OwnedFd> {
        crate::sys::module_btf_fd(module)
            .map_err(Error::sys(
                crate::uapi::Cmd::BtfGetNextId,
                format!("the BTF object of module '{module}'"),
            ))?
            .ok_or_else(|| Error::Env(format!("module '{module}' has no BTF object in the kernel")))
    }

    fn kallsyms_address(&mut self, name: &str) -> Result<Option<u64>> {
        if self.kallsyms.is_none() {
            let bytes = read_limited("/proc/kallsyms")?;
            self.kallsyms = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        let text = self.kallsyms.as_deref().unwrap_or_default();
        kallsyms_lookup(text, name).map_err(|what| Error::Extern {
            name: name.to_string(),
            what,
        })
    }
}

/// The one place that asks the kernel's BTF for an id: the VAR or FUNC
/// `name` in vmlinux, else in the first module (/sys/kernel/btf/<module>,
/// read only now) that has it.
fn kernel_btf_id(vmlinux: &KernelBtf, btf_kind: u8, name: &str) -> Result<Option<KernelBtfId>> {
    if let Some(id) = vmlinux.find(btf_kind, name)? {
        return Ok(Some(KernelBtfId { id, module: None }));
    }
    for module in vmlinux.modules(&[name.to_string()])? {
        if let Some(id) = module.find(btf_kind, name)? {
            return Ok(Some(KernelBtfId {
                id,
                module: Some(module.name.clone()),
            }));
        }
    }
    Ok(None)
}

/// The address of `name` in kallsyms text: `ADDRESS TYPE NAME [MODULE]` lines.
/// A name with two different addresses is ambiguous (static functions of
/// several files); all-zero addresses mean the kernel hides them from us.
pub fn kallsyms_lookup(text: &str, name: &str) -> std::result::Result<Option<u64>, String> {
    let mut found: Option<u64> = None;
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(addr), Some(_), Some(sym)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if sym != name {
            continue;
        }
        let addr = u64::from_str_radix(addr, 16)
            .map_err(|_| format!("bad address '{addr}' in /proc/kallsyms"))?;
        match found {
            Some(a) if a != addr => {
                return Err(format!(
                    "ambiguous: /proc/kallsyms has it at {a:#x} and at {addr:#x}"
                ))
            }
            _ => found = Some(addr),
        }
    }
    if found == Some(0) {
        return Err(
            "/proc/kallsyms shows address 0 (kptr_restrict hides addresses; run as root)".into(),
        );
    }
    Ok(found)
}
