//! The network program types attached for real, where that touches nothing
//! but the selftest's own: a network namespace made for the purpose, its
//! loopback device and sockets opened in it.
//!
//! Namespaces belong to tasks, not processes: one thread moves into a new
//! network namespace and does all the work there; when it exits and its fds
//! close, the namespace and everything attached in it go away. Where each
//! type attaches:
//!
//! | type | attach point | how |
//! |---|---|---|
//! | SK_LOOKUP, FLOW_DISSECTOR | the namespace | BPF_LINK_CREATE on its fd |
//! | XDP, SCHED_CLS (TCX) | its loopback device | BPF_LINK_CREATE on its ifindex |
//! | SOCKET_FILTER | a UDP socket | setsockopt SO_ATTACH_BPF |
//! | SK_REUSEPORT | two SO_REUSEPORT UDP sockets | setsockopt SO_ATTACH_REUSEPORT_EBPF |
//! | SK_MSG, SK_SKB | a SOCKMAP with both ends of a TCP connection | BPF_PROG_ATTACH on the map |
//!
//! Links are checked through the kernel (BPF_OBJ_GET_INFO_BY_FD: link type,
//! program id, attach type, namespace inode or ifindex). Then traffic
//! crosses the loopback: a UDP datagram that must arrive (generic XDP and
//! tc ingress see it on receive, sk_lookup runs on its socket lookup), one
//! to the filtered socket, one to the reuseport group, and a few bytes over
//! the TCP connection (sk_msg runs on send, the stream verdict on receive).
//! Every program's run count must grow. Nothing on that path computes a
//! flow hash, so the flow dissector is confirmed attached but not triggered
//! (its test run showed that it uses timers).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd as _, OwnedFd};
use std::time::{Duration, Instant};

use super::{type_values, Step};
use crate::error::Result;
use crate::load::{Loaded, Program};
use crate::object::maps::MAP_TYPE_SOCKMAP;
use crate::sys::{self, link_type, LinkTarget, OwnNetns, SocketProgram};
use crate::uapi::attach_type;
use crate::uapi::{AttachType, LinkType};

/// Where a network program type attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NetTarget {
    /// The namespace itself, through a link of this attach type.
    Namespace(u32),
    /// The namespace's loopback device, through a link of this attach type.
    Loopback(u32),
    /// A UDP socket, as its filter.
    Socket,
    /// An SO_REUSEPORT group of UDP sockets, as its selector.
    ReuseportGroup,
    /// A SOCKMAP, with this attach type.
    Sockmap(u32),
}

/// One program to attach: its row in the results, its program and slot.
pub(super) struct NetAttach<'a> {
    pub row: usize,
    pub program: &'a str,
    pub slot: u32,
    pub target: NetTarget,
    pub loaded: &'a Loaded,
}

/// How long to wait for traffic to reach every program.
const TRAFFIC_TIMEOUT: Duration = Duration::from_secs(2);

/// Attaches each program in a new network namespace, sends traffic through
/// it, and returns each row's attach step. Without a namespace (no
/// CONFIG_NET_NS, a container that forbids it) every row fails, saying why.
pub(super) fn attach_in_own_netns(wanted: &[NetAttach<'_>]) -> Result<Vec<(usize, Step)>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    match sys::in_new_netns(|netns| attach_and_send(wanted, netns)) {
        Ok(steps) => steps,
        Err(e) => Ok(wanted
            .iter()
            .map(|w| {
                let why = format!("no network namespace of the test's own: {e}");
                (w.row, Step::Failed(why))
            })
            .collect()),
    }
}

/// What holds the attachments: dropping it detaches everything.
#[derive(Default)]
struct Attached {
    links: Vec<OwnedFd>,
    filtered: Option<UdpSocket>,
    reuseport: Vec<UdpSocket>,
    sockmap: Option<sys::SizedMap>,
}

/// Runs on the namespace's own thread.
fn attach_and_send(wanted: &[NetAttach<'_>], netns: &OwnNetns) -> Result<Vec<(usize, Step)>> {
    let mut attached = Attached::default();
    let mut steps = Vec::new();
    let mut counted = Vec::new();
    for w in wanted {
        let step = match w.loaded.program(w.program) {
            None => Err(Step::Failed("program missing".into())),
            Some(prog) => attach(w, prog, netns, &mut attached),
        };
        match step {
            Ok(()) => counted.push((w, type_values(w.loaded, w.slot)?.1)),
            Err(step) => steps.push((w.row, step)),
        }
    }
    let problems = send_traffic(&attached);
    let deadline = Instant::now() + TRAFFIC_TIMEOUT;
    for (w, before) in counted {
        let step = if w.target == NetTarget::Namespace(attach_type::FLOW_DISSECTOR)
            || ran_since(w, before, deadline)?
        {
            Step::Done
        } else if problems.is_empty() {
            Step::Failed("attached, but the test traffic did not run it".into())
        } else {
            Step::Failed(format!(
                "attached, but did not run; the test traffic: {}",
                problems.join("; ")
            ))
        };
        steps.push((w.row, step));
    }
    drop(attached);
    Ok(steps)
}

/// Whether the program's run count grows past `before` by `deadline`
/// (loopback delivery may finish in a softirq after send returns).
fn ran_since(w: &NetAttach<'_>, before: u64, deadline: Instant) -> Result<bool> {
    loop {
        if type_values(w.loaded, w.slot)?.1 > before {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Attaches one program; a failure becomes that row's step.
fn attach(
    w: &NetAttach<'_>,
    prog: &Program,
    netns: &OwnNetns,
    attached: &mut Attached,
) -> std::result::Result<(), Step> {
    fn failed(what: &'static str) -> impl Fn(std::io::Error) -> Step {
        move |e| Step::Failed(format!("{what}: {e}"))
    }
    match w.target {
        NetTarget::Namespace(_) | NetTarget::Loopback(_) => {
            attached.links.push(attach_link(w, prog, netns)?);
        }
        NetTarget::Socket => {
            let sock = UdpSocket::bind("127.0.0.1:0").map_err(failed("UDP socket"))?;
            sys::attach_to_socket(sock.as_fd(), prog.fd(), SocketProgram::Filter)
                .map_err(failed("SO_ATTACH_BPF"))?;
            attached.filtered = Some(sock);
        }
        NetTarget::ReuseportGroup => {
            let first = sys::reuseport_udp_socket(SocketAddr::from(([127, 0, 0, 1], 0)))
                .map_err(failed("SO_REUSEPORT socket"))?;
            let addr = first.local_addr().map_err(failed("SO_REUSEPORT socket"))?;
            let second = sys::reuseport_udp_socket(addr).map_err(failed("SO_REUSEPORT socket"))?;
            sys::attach_to_socket(first.as_fd(), prog.fd(), SocketProgram::ReuseportSelect)
                .map_err(failed("SO_ATTACH_REUSEPORT_EBPF"))?;
            attached.reuseport = vec![first, second];
        }
        NetTarget::Sockmap(attach_type) => {
            if attached.sockmap.is_none() {
                attached.sockmap = Some(sockmap().map_err(failed("sockmap"))?);
            }
            if let Some(map) = &attached.sockmap {
                sys::prog_attach(
                    prog.fd(),
                    map.as_fd(),
                    attach_type,
                    sys::AttachFlags::empty(),
                )
                .map_err(failed("BPF_PROG_ATTACH to the sockmap"))?;
            }
        }
    }
    Ok(())
}

/// BPF_LINK_CREATE, then the kernel's view of the link must match.
fn attach_link(
    w: &NetAttach<'_>,
    prog: &Program,
    netns: &OwnNetns,
) -> std::result::Result<OwnedFd, Step> {
    let (target, kind, want_type, want_target) = match w.target {
        NetTarget::Namespace(kind) => (
            LinkTarget::Fd(netns.fd.as_fd()),
            kind,
            link_type::NETNS,
            netns.ino,
        ),
        NetTarget::Loopback(kind) => (
            LinkTarget::Ifindex(netns.lo_ifindex),
            kind,
            if kind == attach_type::TCX_INGRESS {
                link_type::TCX
            } else {
                link_type::XDP
            },
            netns.lo_ifindex,
        ),
        _ => return Err(Step::Failed("not a link attachment".into())),
    };
    let link = sys::link_create(prog.fd(), target, kind).map_err(|e| {
        let errno = e.raw_os_error();
        let before_tcx = super::kernel_version().is_some_and(|v| v < (6, 6));
        if kind == attach_type::TCX_INGRESS && before_tcx && errno == Some(libc::EINVAL) {
            Step::NotApplicable("TCX links came in Linux 6.6".into())
        } else if kind == attach_type::FLOW_DISSECTOR && errno == Some(libc::EEXIST) {
            // The root namespace's flow dissector overrides every other.
            Step::NotApplicable("a flow dissector is attached in the root namespace".into())
        } else {
            Step::Failed(format!("BPF_LINK_CREATE: {e}"))
        }
    })?;
    let info = sys::link_info(link.as_fd()).map_err(|e| Step::Failed(format!("link info: {e}")))?;
    let prog_id = prog
        .info()
        .map_err(|e| Step::Failed(format!("program info: {e}")))?
        .0
        .id;
    let got_target = match w.target {
        NetTarget::Namespace(_) => info.netns_ino(),
        _ => info.ifindex(),
    };
    // XDP link info has no attach type; netns and TCX link info do.
    let want_kind = (want_type != link_type::XDP).then_some(kind);
    let got = (
        LinkType(info.link_type),
        info.prog_id,
        info.attach_type().map(AttachType),
        got_target,
    );
    let want = (
        LinkType(want_type),
        prog_id,
        want_kind.map(AttachType),
        want_target,
    );
    if got != want {
        return Err(Step::Failed(format!(
            "the kernel reports (link type, program, attach type, target) {got:?}, expected {want:?}"
        )));
    }
    Ok(link)
}

/// An empty two-slot SOCKMAP.
fn sockmap() -> std::io::Result<sys::SizedMap> {
    sys::SizedMap::create(&sys::MapCreateAttr {
        map_type: MAP_TYPE_SOCKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        map_name: sys::object_name("selftest_sockmap"),
        ..Default::default()
    })
}

/// Both ends of a loopback TCP connection, put into `map`. A socket takes
/// the map's programs when it is inserted, so this comes after the attach.
fn connect_through(map: &sys::SizedMap) -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect_timeout(&listener.local_addr()?, TRAFFIC_TIMEOUT)?;
    let server = accept_within(&listener, TRAFFIC_TIMEOUT)?;
    for (key, sock) in [(0u32, &client), (1u32, &server)] {
        let fd = std::os::fd::AsRawFd::as_raw_fd(sock) as u32;
        map.update(&key.to_ne_bytes(), &fd.to_ne_bytes(), sys::UpdateFlags::Any)?;
    }
    client.set_write_timeout(Some(TRAFFIC_TIMEOUT))?;
    server.set_read_timeout(Some(TRAFFIC_TIMEOUT))?;
    Ok((client, server))
}

/// accept(), bounded in time like all the test's traffic.
fn accept_within(listener: &TcpListener, timeout: Duration) -> std::io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The test traffic, all over the namespace's loopback and bounded in
/// time; each step on its own, so one failing does not hide the others.
/// Returns what went wrong.
fn send_traffic(attached: &Attached) -> Vec<String> {
    let mut problems = Vec::new();
    let mut step = |what: &str, result: std::io::Result<()>| {
        if let Err(e) = result {
            problems.push(format!("{what}: {e}"));
        }
    };
    let tx = UdpSocket::bind("127.0.0.1:0");
    let tx = match tx {
        Ok(tx) => tx,
        Err(e) => return vec![format!("UDP socket: {e}")],
    };
    // Must arrive: XDP, tc ingress and sk_lookup all pass it on.
    step("UDP datagram over lo", datagram_arrives(&tx));
    // The filter returns 0, which drops: only its run count shows it ran.
    if let Some(filtered) = &attached.filtered {
        step(
            "datagram to the filtered socket",
            filtered
                .local_addr()
                .and_then(|to| tx.send_to(b"rawbpf", to))
                .map(drop),
        );
    }
    if let Some(group) = attached.reuseport.first() {
        step(
            "datagram to the reuseport group",
            group
                .local_addr()
                .and_then(|to| tx.send_to(b"rawbpf", to))
                .map(drop),
        );
    }
    if let Some(map) = &attached.sockmap {
        step("TCP through the sockmap", tcp_round(map));
    }
    problems
}

fn datagram_arrives(tx: &UdpSocket) -> std::io::Result<()> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    rx.set_read_timeout(Some(TRAFFIC_TIMEOUT))?;
    tx.send_to(b"rawbpf", rx.local_addr()?)?;
    let mut buf = [0u8; 16];
    let (n, from) = rx.recv_from(&mut buf)?;
    if &buf[..n] != b"rawbpf" || from != tx.local_addr()? {
        return Err(std::io::Error::other("a different datagram arrived"));
    }
    Ok(())
}

fn tcp_round(map: &sys::SizedMap) -> std::io::Result<()> {
    let (mut client, mut server) = connect_through(map)?;
    client.write_all(b"rawbpf")?;
    let mut got = [0u8; 6];
    server.read_exact(&mut got)
}
