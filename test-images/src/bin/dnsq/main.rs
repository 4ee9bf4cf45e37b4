//! `dnsq`: a small dig for the toolbox image. Talks DNS itself (never libc's resolver), so it
//! runs fully static and shows exactly what the cluster DNS answers.

mod args;
mod output;
mod resolv_conf;
mod search;
mod transport;

use anyhow::{Context, Result};
use args::{Args, Command, Target};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::Name;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::process::ExitCode;
use transport::Patience;

const EXIT_ANSWERED: u8 = 0;
const EXIT_DNS_ERROR: u8 = 1;
const EXIT_FAILED: u8 = 2;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(Command::Query(args)) => args,
        Ok(Command::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("dnsq: {message}\n\n{}", args::USAGE);
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("dnsq: {err:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Queries each candidate name in turn like a libc resolver and prints the answer that counts.
fn run(args: &Args) -> Result<u8> {
    let conf = resolv_conf::load();
    let server_ip = match args.server {
        Some(ip) => ip,
        None => *conf.nameservers.first().context("no nameserver configured")?,
    };
    let server = SocketAddr::new(server_ip, args.port.unwrap_or(53));
    let patience =
        Patience { timeout: args.timeout.unwrap_or(conf.timeout), tries: args.tries.unwrap_or(conf.attempts) };
    let names = match &args.target {
        Target::Reverse(ip) => {
            let mut name = Name::from(*ip);
            name.set_fqdn(true);
            vec![name]
        }
        Target::Name(name) => {
            search::candidates(name, &conf.search, conf.ndots, args.search).map_err(anyhow::Error::msg)?
        }
    };

    // The first name with data wins; NXDOMAIN and "no data" move on to the next candidate.
    // With nothing found, report a "no data" answer over NXDOMAIN, as libc does.
    let mut first_nodata = None;
    let mut last = None;
    for name in names {
        let (response, protocol) = transport::exchange(server, &query(&name, args), args.tcp, patience)?;
        let rcode = response.response_code();
        let nodata = rcode == ResponseCode::NoError && response.answers().is_empty();
        if rcode != ResponseCode::NXDomain && !nodata {
            return Ok(report(&response, args, server, protocol.name(), name));
        }
        if nodata && first_nodata.is_none() {
            first_nodata = Some((response, protocol, name));
        } else {
            last = Some((response, protocol, name));
        }
    }
    let (response, protocol, name) = first_nodata.or(last).context("no name to query")?;
    Ok(report(&response, args, server, protocol.name(), name))
}

fn query(name: &Name, args: &Args) -> Message {
    let mut message = Message::new();
    message
        .set_id(random_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name.clone(), args.record_type));
    message
}

/// Prints the answer and turns its response code into the exit status.
fn report(response: &Message, args: &Args, server: SocketAddr, protocol: &'static str, name: Name) -> u8 {
    if args.short {
        print!("{}", output::short(response));
    } else {
        print!("{}", output::full(response, &output::Origin { server, protocol, name }));
    }
    if response.response_code() == ResponseCode::NoError {
        EXIT_ANSWERED
    } else {
        EXIT_DNS_ERROR
    }
}

/// A query id that is hard to guess; std's per-process random hash keys are enough here.
fn random_id() -> u16 {
    let mut hasher = RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish() as u16
}
