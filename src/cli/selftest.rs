//! `rawbpf selftest`: the bpf_timer_cancel conformance suite.

use rawbpf::selftest;
use rawbpf::Error;

use super::Failure;

/// The bpf_timer_cancel conformance suite on the running kernel.
#[cfg(feature = "selftest")]
pub(super) fn selftest() -> Result<(), Failure> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    outln!("bpf_timer_cancel on Linux {}", release.trim());
    let rows = match selftest::return_value_cases() {
        Err(e) if rawbpf::load::program::lacks_bpf_timer(&e) => {
            outln!("{}: nothing to test", rawbpf::load::program::NO_BPF_TIMER);
            return Err(Failure::TooOld(e));
        }
        other => other?,
    };
    out!("{}", selftest::format_cases(&rows));
    outln!();
    let types = selftest::program_types()?;
    out!("{}", selftest::format_types(&types));
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.verdict == selftest::Verdict::Fail)
        .map(|r| r.case)
        .chain(
            types
                .iter()
                .filter(|t| t.verdict == selftest::Verdict::Fail)
                .map(|t| t.prog_type),
        )
        .collect();
    if failed.is_empty() {
        outln!("all documented behaviour holds");
        Ok(())
    } else {
        Err(Error::Env(format!(
            "{} case(s) failed: {}",
            failed.len(),
            failed.join("; ")
        ))
        .into())
    }
}
