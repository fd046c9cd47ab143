//! What both PID 1s of the VM tests share: the console, mounts, loopback,
//! and the power-off that reports the result to qemu.

use std::ffi::CString;
use std::io::Write;

/// qemu's `-device isa-debug-exit,iobase=0xf4`: writing N exits with 2N+1.
const DEBUG_EXIT_PORT: u16 = 0xf4;

/// One line on the console, flushed (the host reads it as it comes).
pub fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// mount(2) of a pseudo file system on `target` (created); failures are said.
pub fn mount(fstype: &str, target: &str) {
    let _ = std::fs::create_dir_all(target);
    let (Ok(source), Ok(dir)) = (CString::new(fstype), CString::new(target)) else {
        return;
    };
    // SAFETY: NUL-terminated strings that outlive the call, no data argument.
    let ret = unsafe {
        libc::mount(
            source.as_ptr(),
            dir.as_ptr(),
            source.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        say(&format!(
            "init: mount {fstype} on {target}: {}",
            std::io::Error::last_os_error()
        ));
    }
}

/// The kernel gives init /dev/console as stdio only if the initramfs has it;
/// after devtmpfs is mounted it exists, so (re)open it on 0, 1 and 2.
pub fn console_on_stdio() {
    let path = c"/dev/console";
    // SAFETY: open/dup2/close on fds this process owns.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDWR);
        if fd < 0 {
            return;
        }
        for target in 0..3 {
            if fd != target {
                libc::dup2(fd, target);
            }
        }
        if fd > 2 {
            libc::close(fd);
        }
    }
}

/// `ip link set lo up`: 127.0.0.1 comes with it.
pub fn loopback_up() {
    // SAFETY: a socket used only for the two ioctls on a zeroed ifreq whose
    // name we set; closed at the end.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            say("init: no socket to bring up lo");
            return;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut req) == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(s, libc::SIOCSIFFLAGS as _, &req) != 0 {
                say(&format!("init: lo up: {}", std::io::Error::last_os_error()));
            }
        }
        libc::close(s);
    }
}

/// Reports `code` through qemu's isa-debug-exit, then powers off in case
/// that device is missing. Never returns: PID 1 must not exit.
pub fn power_off(code: u8) -> ! {
    // The console is a serial port: the last lines (the sentinel among
    // them) may still sit in the tty's buffer, and qemu exits the moment the
    // port below is written. Wait until they have gone out.
    // SAFETY: tcdrain only waits on fd 1, which setup() made the console.
    unsafe {
        libc::tcdrain(1);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sync, ioperm/outb on the debug-exit port qemu provides, and
    // reboot(2) as a fallback; nothing here touches Rust-owned memory.
    unsafe {
        libc::sync();
        if libc::ioperm(u64::from(DEBUG_EXIT_PORT), 1, 1) == 0 {
            std::arch::asm!("out dx, al", in("dx") DEBUG_EXIT_PORT, in("al") code);
        }
        libc::reboot(libc::RB_POWER_OFF);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
