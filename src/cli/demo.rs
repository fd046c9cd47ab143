//! `rawbpf demo` (`make run`): the seed attached to a fresh cgroup drops a
//! datagram sent from inside it, and lets it pass once detached.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use rawbpf::attach::cgroup::{self, AttachMode, Cgroup};
use rawbpf::sys::{self, SendOutcome};
use rawbpf::Error;

use super::run::describe;
use super::{check_stop, Failure, STOP_SIGNALS};

/// The main job in one shot (`make run`).
pub(super) fn demo() -> Result<(), Failure> {
    // A stop signal ends the demo at the next step; returning removes its
    // cgroup and unloads everything.
    sys::install_stop_handlers(&STOP_SIGNALS).map_err(|e| Error::io("sigaction", e))?;
    let options = rawbpf::LoadOptions::default().cancel(sys::stop_flag());
    let mut spec = rawbpf::ObjectSpec::parse(rawbpf::SEED_OBJECT)?;
    spec.set_name(rawbpf::SEED_NAME);
    let loaded = spec.load(&options).map_err(super::stopped)?;
    let cgroup = Cgroup::create_unique("rawbpf-demo")?;
    check_stop()?;
    let receiver = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| Error::os("UDP socket on 127.0.0.1", e))?;
    receiver
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| Error::os("UDP socket", e))?;
    let dst: SocketAddr = receiver
        .local_addr()
        .map_err(|e| Error::os("UDP socket", e))?;

    let prog = loaded
        .program("bpf_prog1")
        .ok_or_else(|| Error::Env("the embedded seed has no program bpf_prog1".into()))?;
    let attachment = cgroup::attach(prog, &cgroup, AttachMode::Link)?;
    check_stop()?;
    out!(
        "{}",
        describe(&loaded, std::slice::from_ref(&attachment), Some(&cgroup))
    );
    let (_, ids) = cgroup.query(attachment.attach_type)?;
    outln!(
        "cgroup  {} egress programs (BPF_PROG_QUERY): {ids:?}",
        cgroup.path().display()
    );

    let attached = sys::probe_in_cgroup(cgroup.path(), &sys::Probe::udp(dst))
        .map_err(|e| Error::io(cgroup.path(), e))?;
    let got_attached = receive(&receiver);
    check_stop()?;
    outln!(
        "send from inside the cgroup while attached: {}",
        outcome(attached, got_attached)
    );
    attachment.detach()?;
    let detached = sys::probe_in_cgroup(cgroup.path(), &sys::Probe::udp(dst))
        .map_err(|e| Error::io(cgroup.path(), e))?;
    let got_detached = receive(&receiver);
    check_stop()?;
    outln!(
        "send from inside the cgroup after detach:   {}",
        outcome(detached, got_detached)
    );

    let ok = attached == SendOutcome::Failed(libc::EPERM)
        && !got_attached
        && detached == SendOutcome::Sent
        && got_detached;
    drop(loaded);
    drop(cgroup);
    if ok {
        outln!("ok: the program dropped egress traffic while attached; everything is cleaned up");
        Ok(())
    } else {
        Err(Error::Env("the demo did not see the expected drop-then-pass behaviour".into()).into())
    }
}

fn receive(socket: &UdpSocket) -> bool {
    let mut buf = [0u8; 64];
    matches!(socket.recv(&mut buf), Ok(n) if &buf[..n] == b"rawbpf")
}

fn outcome(sent: SendOutcome, received: bool) -> String {
    let send = match sent {
        SendOutcome::Sent => "send() ok".to_string(),
        SendOutcome::Failed(errno) => format!(
            "send() failed: {}",
            std::io::Error::from_raw_os_error(errno)
        ),
    };
    format!(
        "{send}, {}",
        if received { "received" } else { "not received" }
    )
}
