//! The agents' network: one namespace per agent, a veth pair to the host namespace, a
//! TCP forwarder on the host end that carries the agent's connections to PostgreSQL (which
//! listens on loopback only), and a tmpfs per node so a pool's capacity is small enough
//! to fill. Every piece is a guard that undoes itself when dropped, so a failed or
//! panicking run leaves no namespace, link, mount or thread behind.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::super::HarnessError;

/// Runs `ip` with `args`; an error carries its stderr.
fn ip(args: &[&str]) -> Result<(), HarnessError> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError(format!("cannot run ip: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(HarnessError(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Refuses to go on unless this process may create namespaces (root), so a run without
/// them fails loudly rather than testing less than it says.
pub fn require_root() -> Result<(), HarnessError> {
    // The effective uid is the second figure of `Uid:` (real, effective, saved, fs).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() == Some("0") {
        Ok(())
    } else {
        Err(HarnessError(
            "the cluster rounds put agents in network namespaces (ip netns), which needs root; \
             run as root"
                .into(),
        ))
    }
}

/// The third octet of a free `10.231.N.0/30`, from `start` on: one no address of this
/// host uses yet, so two runs at once do not share a subnet.
fn free_octets(start: u8, count: usize) -> Result<Vec<u8>, HarnessError> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .map_err(|e| HarnessError(format!("cannot run ip: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let taken = |n: u8| text.contains(&format!(" 10.231.{n}."));
    let picked: Vec<u8> = (0..=255u16)
        .map(|i| ((u16::from(start) + i) % 256) as u8)
        .filter(|n| !taken(*n))
        .take(count)
        .collect();
    if picked.len() < count {
        return Err(HarnessError("no free 10.231.N.0/30 subnet".into()));
    }
    Ok(picked)
}

/// A network namespace with a veth pair to the host: the host end holds
/// `10.231.N.1/30`, the namespace's end `10.231.N.2/30`. Removed when dropped (deleting
/// the namespace deletes its end of the pair, and with it the host's).
pub struct Namespace {
    /// The namespace's name (`ip netns`).
    pub name: String,
    /// The host end of the veth pair: taking it down partitions the namespace.
    pub link: String,
    /// The host end's address, where the namespace reaches the host.
    pub host_ip: Ipv4Addr,
    /// The namespace end's address.
    pub inner_ip: Ipv4Addr,
}

impl Namespace {
    /// Makes `count` namespaces named after `tag` (a few hex digits unique to the run;
    /// interface names are at most 15 characters).
    pub fn make(tag: &str, count: usize, seed: u8) -> Result<Vec<Namespace>, HarnessError> {
        let octets = free_octets(seed, count)?;
        let mut made = Vec::with_capacity(count);
        for (i, n) in octets.into_iter().enumerate() {
            // Pushed before it is set up, so a failure half-way still removes it.
            made.push(Namespace {
                name: format!("ck{tag}n{i}"),
                link: format!("ck{tag}h{i}"),
                host_ip: Ipv4Addr::new(10, 231, n, 1),
                inner_ip: Ipv4Addr::new(10, 231, n, 2),
            });
            if let Some(ns) = made.last() {
                ns.set_up(&format!("ck{tag}p{i}"))?;
            }
        }
        Ok(made)
    }

    fn set_up(&self, peer: &str) -> Result<(), HarnessError> {
        let (ns, link) = (self.name.as_str(), self.link.as_str());
        ip(&["netns", "add", ns])?;
        ip(&["link", "add", link, "type", "veth", "peer", "name", peer])?;
        ip(&["link", "set", peer, "netns", ns])?;
        ip(&["addr", "add", &format!("{}/30", self.host_ip), "dev", link])?;
        ip(&["link", "set", link, "up"])?;
        let inner = format!("{}/30", self.inner_ip);
        ip(&[
            "netns", "exec", ns, "ip", "addr", "add", &inner, "dev", peer,
        ])?;
        ip(&["netns", "exec", ns, "ip", "link", "set", peer, "up"])?;
        ip(&["netns", "exec", ns, "ip", "link", "set", "lo", "up"])
    }

    /// Cuts the namespace off (`up = false`) or heals it.
    pub fn set_link(&self, up: bool) -> Result<(), HarnessError> {
        let state = if up { "up" } else { "down" };
        ip(&["link", "set", &self.link, state])?;
        if up {
            // Taking a link down drops its address's route; bringing it up restores it,
            // but only once the kernel has the link up again.
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A TCP forwarder listening on `listen` and carrying each connection to `target`, in
/// threads of this process: the namespace's agent reaches a server that listens on
/// loopback only. Dropping it closes the listener and every connection.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// Listens on `listen` at once (so an agent started next finds it) and forwards.
    pub fn start(listen: SocketAddr, target: SocketAddr) -> Result<Forwarder, HarnessError> {
        let listener = TcpListener::bind(listen)
            .map_err(|e| HarnessError(format!("forwarder cannot listen on {listen}: {e}")))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (s, o) = (stop.clone(), open.clone());
        let accept = std::thread::spawn(move || accept_loop(&listener, target, &s, &o));
        Ok(Forwarder {
            stop,
            open,
            accept: Some(accept),
        })
    }
}

fn accept_loop(
    listener: &TcpListener,
    target: SocketAddr,
    stop: &AtomicBool,
    open: &Mutex<Vec<TcpStream>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => continue,
        };
        let _ = client.set_nonblocking(false);
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
            continue;
        };
        let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        if let Ok(mut list) = open.lock() {
            // Kept so that dropping the forwarder can shut every connection down.
            list.extend([c2.try_clone(), s2.try_clone()].into_iter().flatten());
        }
        std::thread::spawn(move || pipe(client, server));
        std::thread::spawn(move || pipe(s2, c2));
    }
}

/// Copies `from` to `to` until either end closes, then closes both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        if let Ok(list) = self.open.lock() {
            for s in list.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// A tmpfs of `gib` GiB mounted on a directory: a node's pool whose total is small
/// enough for the load to fill (its files are sparse, so they take no room on it).
/// Unmounted when dropped.
pub struct SmallPool {
    dir: PathBuf,
}

impl SmallPool {
    /// Mounts it on `dir` (made if missing).
    pub fn mount(dir: &Path, gib: u32) -> Result<SmallPool, HarnessError> {
        std::fs::create_dir_all(dir)?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={gib}g"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| HarnessError(format!("cannot run mount: {e}")))?;
        if !out.status.success() {
            return Err(HarnessError(format!(
                "mount tmpfs on {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(SmallPool {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for SmallPool {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there must not keep the mount alive.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
