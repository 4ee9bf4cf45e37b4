//! Command line of dnsq: `dnsq NAME [TYPE] [@SERVER] [+tcp] [+short]`, `dnsq -x IP`.

use hickory_proto::rr::RecordType;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

pub const USAGE: &str = "\
usage: dnsq NAME [TYPE] [@SERVER[:PORT]] [options]
       dnsq -x IP [@SERVER[:PORT]] [options]

TYPE is A (default), AAAA, SRV, PTR, CNAME, TXT, SOA, NS, ANY or another type name.
The server defaults to the first nameserver of /etc/resolv.conf (or $DNSQ_RESOLV_CONF);
a name that is not fully qualified goes through its search list and ndots like libc does.

options:
  -x IP          reverse lookup (PTR) of an IPv4 or IPv6 address
  -t TYPE        query type
  -p PORT        server port (default 53)
  +tcp           query over TCP (UDP otherwise, with TCP fallback on truncation)
  +short         print only the answer data
  +nosearch      do not apply the search list
  +timeout=SECS  per-try timeout (default: resolv.conf timeout, else 5)
  +tries=N       tries over UDP (default: resolv.conf attempts, else 2)
  -h, --help     this text

exit status: 0 NOERROR, 1 any other response code (NXDOMAIN, SERVFAIL...), 2 timeout or error";

/// What to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name(String),
    Reverse(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub target: Target,
    pub record_type: RecordType,
    /// `@SERVER`; the resolv.conf nameserver when absent.
    pub server: Option<IpAddr>,
    /// Port from `@SERVER:PORT` or `-p`.
    pub port: Option<u16>,
    pub tcp: bool,
    pub short: bool,
    pub search: bool,
    pub timeout: Option<Duration>,
    pub tries: Option<u32>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Query(Args),
}

/// Parses the arguments after the program name; `Err` is a message for the user.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut positional = Vec::new();
    let mut reverse = None;
    let mut explicit_type = None;
    let mut server = None;
    let mut port = None;
    let mut server_port = None;
    let (mut tcp, mut short, mut search) = (false, false, true);
    let (mut timeout, mut tries) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" | "-help" => return Ok(Command::Help),
            "-x" => reverse = Some(parse_ip(&value("-x")?)?),
            "-t" => explicit_type = Some(parse_type(&value("-t")?)?),
            "-p" => port = Some(value("-p")?.parse().map_err(|_| "-p needs a port number".to_string())?),
            "+tcp" | "+vc" => tcp = true,
            "+notcp" | "+novc" => tcp = false,
            "+short" => short = true,
            "+search" => search = true,
            "+nosearch" => search = false,
            _ if arg.starts_with("+timeout=") => timeout = Some(Duration::from_secs(number(&arg)?.max(1))),
            _ if arg.starts_with("+tries=") => tries = Some(u32::try_from(number(&arg)?.max(1)).unwrap_or(u32::MAX)),
            _ if arg.starts_with('@') => {
                let (ip, explicit_port) = parse_server(&arg[1..])?;
                server = Some(ip);
                server_port = explicit_port;
            }
            _ if arg.starts_with(['-', '+']) && arg.len() > 1 => return Err(format!("unknown option {arg}")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let target = match reverse {
        Some(ip) => Target::Reverse(ip),
        None => Target::Name(positional.next().ok_or("a NAME (or -x IP) is required")?),
    };
    let positional_type = positional.next().map(|t| parse_type(&t)).transpose()?;
    if let Some(extra) = positional.next() {
        return Err(format!("unexpected argument {extra}"));
    }
    let default_type = if matches!(target, Target::Reverse(_)) { RecordType::PTR } else { RecordType::A };
    let record_type = explicit_type.or(positional_type).unwrap_or(default_type);
    // A port written with the server beats -p, whatever their order.
    let port = server_port.or(port);
    Ok(Command::Query(Args { target, record_type, server, port, tcp, short, search, timeout, tries }))
}

fn parse_type(text: &str) -> Result<RecordType, String> {
    RecordType::from_str(&text.to_ascii_uppercase()).map_err(|_| format!("unknown record type {text}"))
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse().map_err(|_| format!("{text} is not an IP address"))
}

/// `1.2.3.4`, `1.2.3.4:5353`, `::1` or `[::1]:5353`. Host names are refused: dnsq never asks libc.
fn parse_server(text: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok((addr.ip(), Some(addr.port())));
    }
    text.parse().map(|ip| (ip, None)).map_err(|_| format!("server {text} must be an IP address (optionally :PORT)"))
}

fn number(arg: &str) -> Result<u64, String> {
    arg.split_once('=').and_then(|(_, n)| n.parse().ok()).ok_or_else(|| format!("{arg}: expected a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(args: &[&str]) -> Result<Args, String> {
        match parse(args.iter().map(|a| a.to_string()))? {
            Command::Query(args) => Ok(args),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn name_type_server_and_flags() -> Result<(), String> {
        let args = query(&["web", "srv", "@10.96.0.10", "+tcp", "+short"])?;
        assert_eq!(args.target, Target::Name("web".into()));
        assert_eq!(args.record_type, RecordType::SRV);
        assert_eq!(args.server, "10.96.0.10".parse().ok());
        assert!(args.tcp && args.short && args.search);
        Ok(())
    }

    #[test]
    fn server_ports() -> Result<(), String> {
        assert_eq!(query(&["a", "@127.0.0.1:5353"])?.port, Some(5353));
        assert_eq!(query(&["a", "@[::1]:5353"])?.server, "::1".parse().ok());
        assert_eq!(query(&["a", "-p", "54", "@::1"])?.port, Some(54));
        assert_eq!(query(&["a", "@127.0.0.1:5353", "-p", "54"])?.port, Some(5353));
        assert!(query(&["a", "@dns.example"]).is_err());
        Ok(())
    }

    #[test]
    fn reverse_defaults_to_ptr() -> Result<(), String> {
        let args = query(&["-x", "10.0.0.1"])?;
        assert_eq!(
            (args.target, args.record_type),
            (Target::Reverse("10.0.0.1".parse().map_err(|_| "ip")?), RecordType::PTR)
        );
        Ok(())
    }

    #[test]
    fn help_and_errors() {
        assert_eq!(parse(["-h".to_string()]), Ok(Command::Help));
        assert!(query(&[]).is_err());
        assert!(query(&["a", "BOGUS"]).is_err());
        assert!(query(&["a", "+frobnicate"]).is_err());
    }
}
