//! Runs the real `dnsq` binary against a tiny DNS server on loopback.

mod common;

use anyhow::{Context, Result};
use common::{free_port, TempDir};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const WEB: &str = "web.default.svc.cluster.local.";

/// The test zone. `big.test.` is "too large" for UDP: truncated there, answered over TCP.
fn respond(request: &Message, tcp: bool) -> Message {
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired());
    let Some(query) = request.queries().first() else {
        response.set_response_code(ResponseCode::FormErr);
        return response;
    };
    response.add_query(query.clone());
    let name = query.name().clone();
    let record = |data: RData| Record::from_rdata(name.clone(), 30, data);
    let web = || Name::from_ascii(WEB).unwrap(); // a constant, not outside input
    match (name.to_ascii().to_lowercase().as_str(), query.query_type()) {
        (WEB, RecordType::A) => {
            response.add_answer(record(RData::A(A(Ipv4Addr::new(10, 96, 0, 5)))));
        }
        (WEB, _) => {} // the name exists, other types have no data
        ("_http._tcp.web.default.svc.cluster.local.", RecordType::SRV) => {
            response.add_answer(record(RData::SRV(SRV::new(0, 100, 80, web()))));
        }
        ("5.0.96.10.in-addr.arpa.", RecordType::PTR) => {
            response.add_answer(record(RData::PTR(PTR(web()))));
        }
        ("big.test.", RecordType::A) if !tcp => {
            response.set_truncated(true);
        }
        ("big.test.", RecordType::A) => {
            response.add_answer(record(RData::A(A(Ipv4Addr::new(10, 0, 0, 9)))));
        }
        _ => {
            response.set_response_code(ResponseCode::NXDomain);
        }
    }
    response
}

/// UDP and TCP DNS on one loopback port; records the names asked; stops and joins on drop.
struct DnsServer {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DnsServer {
    fn start() -> Result<Self> {
        let port = free_port()?;
        let udp = UdpSocket::bind(("127.0.0.1", port))?;
        udp.set_read_timeout(Some(Duration::from_millis(50)))?;
        let tcp = TcpListener::bind(("127.0.0.1", port))?;
        tcp.set_nonblocking(true)?;
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let answer = {
            let asked = asked.clone();
            move |wire: &[u8], tcp: bool| -> Option<Vec<u8>> {
                let request = Message::from_vec(wire).ok()?;
                if let (Some(query), Ok(mut asked)) = (request.queries().first(), asked.lock()) {
                    asked.push(format!("{} {}", query.name(), if tcp { "tcp" } else { "udp" }));
                }
                respond(&request, tcp).to_vec().ok()
            }
        };
        let udp_thread = {
            let (stop, answer) = (stop.clone(), answer.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((len, from)) = udp.recv_from(&mut buf) {
                        if let Some(reply) = answer(&buf[..len], false) {
                            let _ = udp.send_to(&reply, from);
                        }
                    }
                }
            })
        };
        let tcp_thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match tcp.accept() {
                        Ok((stream, _)) => serve_tcp(stream, &answer),
                        Err(err) if err.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10))
                        }
                        Err(_) => return,
                    }
                }
            })
        };
        Ok(Self { port, asked, stop, threads: vec![udp_thread, tcp_thread] })
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

fn serve_tcp(mut stream: TcpStream, answer: &impl Fn(&[u8], bool) -> Option<Vec<u8>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut len = [0u8; 2];
    if stream.read_exact(&mut len).is_err() {
        return;
    }
    let mut wire = vec![0u8; usize::from(u16::from_be_bytes(len))];
    if stream.read_exact(&mut wire).is_err() {
        return;
    }
    if let Some(reply) = answer(&wire, true).and_then(|r| Some((u16::try_from(r.len()).ok()?, r))) {
        let _ = stream.write_all(&reply.0.to_be_bytes());
        let _ = stream.write_all(&reply.1);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A resolv.conf like a pod's, pointing at the test server.
struct Setup {
    server: DnsServer,
    dir: TempDir,
}

fn setup(name: &str) -> Result<Setup> {
    let dir = TempDir::new(name)?;
    std::fs::write(
        dir.0.join("resolv.conf"),
        "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5 timeout:2\n",
    )?;
    Ok(Setup { server: DnsServer::start()?, dir })
}

fn dnsq(setup: &Setup, args: &[&str]) -> Result<(Option<i32>, String)> {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_dnsq"))
        .args(args)
        .args(["-p", &setup.server.port.to_string()])
        .env("DNSQ_RESOLV_CONF", setup.dir.0.join("resolv.conf"))
        .output()
        .context("running dnsq")?;
    let stdout = String::from_utf8(stdout)?;
    eprintln!("dnsq {args:?} -> {status}\n{stdout}{}", String::from_utf8_lossy(&stderr));
    Ok((status.code(), stdout))
}

#[test]
fn a_record_full_and_short() -> Result<()> {
    let setup = setup("a")?;
    let (code, out) = dnsq(&setup, &[WEB, "A"])?;
    assert_eq!(code, Some(0));
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("flags: qr aa rd;"), "{out}");
    assert!(out.contains(";; ANSWER SECTION:\nweb.default.svc.cluster.local.\t30\tIN\tA\t10.96.0.5"), "{out}");
    assert!(out.contains("(UDP)"), "{out}");
    assert_eq!(dnsq(&setup, &[WEB, "+short"])?, (Some(0), "10.96.0.5\n".to_string()));
    Ok(())
}

#[test]
fn srv_record() -> Result<()> {
    let setup = setup("srv")?;
    let (code, out) = dnsq(&setup, &["_http._tcp.web.default.svc.cluster.local.", "SRV", "+short"])?;
    assert_eq!((code, out.as_str()), (Some(0), "0 100 80 web.default.svc.cluster.local.\n"));
    Ok(())
}

#[test]
fn nxdomain_exits_one() -> Result<()> {
    let setup = setup("nx")?;
    let (code, out) = dnsq(&setup, &["missing.example.", "A"])?;
    assert_eq!(code, Some(1));
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    Ok(())
}

#[test]
fn short_name_goes_through_the_search_list() -> Result<()> {
    let setup = setup("search")?;
    let (code, out) = dnsq(&setup, &["web"])?;
    assert_eq!(code, Some(0));
    assert!(out.contains(";; NAME: web.default.svc.cluster.local."), "{out}");
    assert_eq!(setup.server.asked(), ["web.default.svc.cluster.local. udp"]);

    // Not found anywhere: every search domain, then the name itself, in libc's order.
    let (code, _) = dnsq(&setup, &["nothing", "+short"])?;
    assert_eq!(code, Some(1));
    assert_eq!(
        setup.server.asked()[1..],
        ["nothing.default.svc.cluster.local. udp", "nothing.svc.cluster.local. udp", "nothing. udp"]
    );
    Ok(())
}

#[test]
fn truncated_udp_answer_is_retried_over_tcp() -> Result<()> {
    let setup = setup("tc")?;
    let (code, out) = dnsq(&setup, &["big.test.", "A"])?;
    assert_eq!(code, Some(0));
    assert!(out.contains("10.0.0.9") && out.contains("(TCP)"), "{out}");
    assert_eq!(dnsq(&setup, &["big.test.", "+tcp", "+short"])?, (Some(0), "10.0.0.9\n".to_string()));
    Ok(())
}

#[test]
fn reverse_lookup() -> Result<()> {
    let setup = setup("ptr")?;
    assert_eq!(dnsq(&setup, &["-x", "10.96.0.5", "+short"])?, (Some(0), format!("{WEB}\n")));
    Ok(())
}

#[test]
fn silent_server_times_out_with_exit_two() -> Result<()> {
    let setup = setup("timeout")?;
    let silent = UdpSocket::bind("127.0.0.1:0")?;
    let server = SocketAddr::from(([127, 0, 0, 1], silent.local_addr()?.port())).to_string();
    let started = std::time::Instant::now();
    let (code, _) = dnsq(&setup, &[WEB, &format!("@{server}"), "+timeout=1", "+tries=1"])?;
    assert_eq!(code, Some(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}
