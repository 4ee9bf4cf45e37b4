//! dig-like rendering of an answer.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record};
use std::fmt::Write;
use std::net::SocketAddr;

/// Where the answer came from, for the footer.
pub struct Origin {
    pub server: SocketAddr,
    pub protocol: &'static str,
    /// The search-list candidate that produced this answer.
    pub name: Name,
}

/// The full text: header, flags, sections and footer.
pub fn full(message: &Message, origin: &Origin) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        ";; ->>HEADER<<- opcode: QUERY, status: {}, id: {}",
        rcode_name(message.response_code()),
        message.id()
    );
    let _ = writeln!(
        out,
        ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
        flags(message),
        message.queries().len(),
        message.answers().len(),
        message.name_servers().len(),
        message.additionals().len()
    );
    let _ = writeln!(out, "\n;; QUESTION SECTION:");
    for query in message.queries() {
        let _ = writeln!(out, ";{}\t\t{}\t{}", query.name(), query.query_class(), query.query_type());
    }
    for (title, records) in
        [("ANSWER", message.answers()), ("AUTHORITY", message.name_servers()), ("ADDITIONAL", message.additionals())]
    {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n;; {title} SECTION:");
        for record in records {
            let _ = writeln!(out, "{}", record_line(record));
        }
    }
    let _ = writeln!(out, "\n;; SERVER: {}#{} ({})", origin.server.ip(), origin.server.port(), origin.protocol);
    let _ = writeln!(out, ";; NAME: {}", origin.name);
    out
}

/// `+short`: the data of each answer record, one per line.
pub fn short(message: &Message) -> String {
    message.answers().iter().map(|record| format!("{}\n", rdata(record.data()))).collect()
}

fn record_line(record: &Record) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        record.name(),
        record.ttl(),
        record.dns_class(),
        record.record_type(),
        rdata(record.data())
    )
}

/// Record data as in zone files; TXT strings quoted like dig does.
fn rdata(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt
            .txt_data()
            .iter()
            .map(|s| format!("\"{}\"", String::from_utf8_lossy(s).replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

fn flags(message: &Message) -> String {
    let set = [
        (true, "qr"),
        (message.authoritative(), "aa"),
        (message.truncated(), "tc"),
        (message.recursion_desired(), "rd"),
        (message.recursion_available(), "ra"),
        (message.authentic_data(), "ad"),
        (message.checking_disabled(), "cd"),
    ];
    set.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect::<Vec<_>>().join(" ")
}

/// The mnemonic dig prints (NOERROR, NXDOMAIN...).
pub fn rcode_name(code: ResponseCode) -> String {
    match u16::from(code) {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        other => format!("RCODE{other}"),
    }
}
