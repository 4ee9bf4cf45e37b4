//! SPDY/3.1 frame layout: an 8-byte header (control bit, version and type, or a data frame's stream id; then
//! flags and a 24-bit length) followed by the payload. Header blocks stay compressed here (see `headers`).

use bytes::Bytes;

pub(crate) const VERSION: u16 = 3;
pub(crate) const FLAG_FIN: u8 = 0x01;
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
const HEADER_LEN: usize = 8;
/// Largest payload we accept; SPDY's length field allows 16 MiB, real peers send far less.
const MAX_PAYLOAD: usize = 1 << 24;
/// RST_STREAM status codes used here.
pub(crate) const RST_PROTOCOL_ERROR: u32 = 1;
pub(crate) const RST_CANCEL: u32 = 5;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    SynStream {
        stream_id: u32,
        associated_id: u32,
        priority: u8,
        fin: bool,
        unidirectional: bool,
        header_block: Vec<u8>,
    },
    SynReply {
        stream_id: u32,
        fin: bool,
        header_block: Vec<u8>,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    Settings {
        flags: u8,
        entries: Vec<(u8, u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        fin: bool,
        header_block: Vec<u8>,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        fin: bool,
        data: Bytes,
    },
    /// A control frame of a type we do not know; SPDY says to ignore it.
    Unknown {
        kind: u16,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    #[error("SPDY frame of {0} bytes is too large")]
    TooLarge(usize),
    #[error("SPDY control frame type {kind} is too short ({len} bytes)")]
    Short { kind: u16, len: usize },
}

impl Frame {
    /// Appends the encoded frame to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Data { stream_id, fin, data } => {
                out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                push_flags_len(out, if *fin { FLAG_FIN } else { 0 }, data.len());
                out.extend_from_slice(data);
            }
            Frame::SynStream { stream_id, associated_id, priority, fin, unidirectional, header_block } => {
                let mut body = Vec::with_capacity(10 + header_block.len());
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&(associated_id & 0x7fff_ffff).to_be_bytes());
                body.push((priority & 0x07) << 5);
                body.push(0); // credential slot
                body.extend_from_slice(header_block);
                let flags = fin_flag(*fin) | if *unidirectional { FLAG_UNIDIRECTIONAL } else { 0 };
                push_control(out, SYN_STREAM, flags, &body);
            }
            Frame::SynReply { stream_id, fin, header_block } => {
                push_control(out, SYN_REPLY, fin_flag(*fin), &with_stream_id(*stream_id, header_block));
            }
            Frame::Headers { stream_id, fin, header_block } => {
                push_control(out, HEADERS, fin_flag(*fin), &with_stream_id(*stream_id, header_block));
            }
            Frame::RstStream { stream_id, status } => {
                push_control(out, RST_STREAM, 0, &two_words(*stream_id & 0x7fff_ffff, *status));
            }
            Frame::Settings { flags, entries } => {
                let mut body = Vec::with_capacity(4 + 8 * entries.len());
                body.extend_from_slice(&(entries.len() as u32).to_be_bytes());
                for (entry_flags, id, value) in entries {
                    body.push(*entry_flags);
                    body.extend_from_slice(&id.to_be_bytes()[1..]);
                    body.extend_from_slice(&value.to_be_bytes());
                }
                push_control(out, SETTINGS, *flags, &body);
            }
            Frame::Ping { id } => push_control(out, PING, 0, &id.to_be_bytes()),
            Frame::GoAway { last_good_stream_id, status } => {
                push_control(out, GOAWAY, 0, &two_words(*last_good_stream_id & 0x7fff_ffff, *status));
            }
            Frame::WindowUpdate { stream_id, delta } => {
                push_control(out, WINDOW_UPDATE, 0, &two_words(*stream_id & 0x7fff_ffff, *delta & 0x7fff_ffff));
            }
            Frame::Unknown { kind } => push_control(out, *kind, 0, &[]),
        }
    }

    /// Decodes one frame from the start of `buf`: `Ok(None)` until the whole frame is there, else the frame and
    /// how many bytes it used.
    pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let flags = buf[4];
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLarge(len));
        }
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = &buf[HEADER_LEN..HEADER_LEN + len];
        let fin = flags & FLAG_FIN != 0;
        let frame = if first & 0x8000_0000 == 0 {
            Frame::Data { stream_id: first, fin, data: Bytes::copy_from_slice(payload) }
        } else {
            let version = ((first >> 16) & 0x7fff) as u16;
            if version != VERSION {
                return Err(FrameError::Version(version));
            }
            decode_control((first & 0xffff) as u16, flags, payload)?
        };
        Ok(Some((frame, HEADER_LEN + len)))
    }
}

fn decode_control(kind: u16, flags: u8, payload: &[u8]) -> Result<Frame, FrameError> {
    let fin = flags & FLAG_FIN != 0;
    let need = |n: usize| if payload.len() < n { Err(FrameError::Short { kind, len: payload.len() }) } else { Ok(()) };
    let word = |at: usize| u32::from_be_bytes([payload[at], payload[at + 1], payload[at + 2], payload[at + 3]]);
    Ok(match kind {
        SYN_STREAM => {
            need(10)?;
            Frame::SynStream {
                stream_id: word(0) & 0x7fff_ffff,
                associated_id: word(4) & 0x7fff_ffff,
                priority: payload[8] >> 5,
                fin,
                unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                header_block: payload[10..].to_vec(),
            }
        }
        SYN_REPLY => {
            need(4)?;
            Frame::SynReply { stream_id: word(0) & 0x7fff_ffff, fin, header_block: payload[4..].to_vec() }
        }
        HEADERS => {
            need(4)?;
            Frame::Headers { stream_id: word(0) & 0x7fff_ffff, fin, header_block: payload[4..].to_vec() }
        }
        RST_STREAM => {
            need(8)?;
            Frame::RstStream { stream_id: word(0) & 0x7fff_ffff, status: word(4) }
        }
        SETTINGS => {
            need(4)?;
            let count = word(0) as usize;
            need(4 + count.saturating_mul(8))?;
            let entries = (0..count)
                .map(|i| {
                    let at = 4 + 8 * i;
                    (payload[at], word(at) & 0x00ff_ffff, word(at + 4))
                })
                .collect();
            Frame::Settings { flags, entries }
        }
        PING => {
            need(4)?;
            Frame::Ping { id: word(0) }
        }
        GOAWAY => {
            need(8)?;
            Frame::GoAway { last_good_stream_id: word(0) & 0x7fff_ffff, status: word(4) }
        }
        WINDOW_UPDATE => {
            need(8)?;
            Frame::WindowUpdate { stream_id: word(0) & 0x7fff_ffff, delta: word(4) & 0x7fff_ffff }
        }
        other => Frame::Unknown { kind: other },
    })
}

fn fin_flag(fin: bool) -> u8 {
    if fin {
        FLAG_FIN
    } else {
        0
    }
}

fn with_stream_id(stream_id: u32, rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + rest.len());
    body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
    body.extend_from_slice(rest);
    body
}

fn two_words(a: u32, b: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&a.to_be_bytes());
    out[4..].copy_from_slice(&b.to_be_bytes());
    out
}

fn push_flags_len(out: &mut Vec<u8>, flags: u8, len: usize) {
    out.push(flags);
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
}

fn push_control(out: &mut Vec<u8>, kind: u16, flags: u8, body: &[u8]) {
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    push_flags_len(out, flags, body.len());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: Frame) {
        let mut buf = Vec::new();
        frame.encode(&mut buf);
        assert_eq!(Frame::decode(&buf[..buf.len() - 1]), Ok(None), "incomplete frame must wait for more bytes");
        buf.extend_from_slice(b"next");
        let (decoded, used) = Frame::decode(&buf).unwrap().unwrap();
        assert_eq!(decoded, frame);
        assert_eq!(used, buf.len() - 4);
    }

    #[test]
    fn frames_round_trip() {
        round_trip(Frame::SynStream {
            stream_id: 5,
            associated_id: 0,
            priority: 3,
            fin: false,
            unidirectional: true,
            header_block: vec![1, 2, 3],
        });
        round_trip(Frame::SynReply { stream_id: 7, fin: true, header_block: vec![9; 20] });
        round_trip(Frame::Headers { stream_id: 7, fin: false, header_block: vec![] });
        round_trip(Frame::RstStream { stream_id: 3, status: RST_CANCEL });
        round_trip(Frame::Settings { flags: 1, entries: vec![(0, 7, 65536), (1, 4, 100)] });
        round_trip(Frame::Ping { id: 0xffff_fff1 });
        round_trip(Frame::GoAway { last_good_stream_id: 9, status: 0 });
        round_trip(Frame::WindowUpdate { stream_id: 1, delta: 4096 });
        round_trip(Frame::Data { stream_id: 1, fin: true, data: Bytes::from_static(b"hello") });
        round_trip(Frame::Data { stream_id: 3, fin: false, data: Bytes::new() });
    }

    #[test]
    fn known_wire_bytes() {
        let mut buf = Vec::new();
        Frame::Ping { id: 1 }.encode(&mut buf);
        assert_eq!(buf, [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]);
        buf.clear();
        Frame::Data { stream_id: 3, fin: true, data: Bytes::from_static(b"ab") }.encode(&mut buf);
        assert_eq!(buf, [0, 0, 0, 3, 0x01, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn rejects_bad_frames() {
        let mut buf = vec![0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1];
        assert_eq!(Frame::decode(&buf), Err(FrameError::Version(2)));
        buf[1] = 3;
        buf[7] = 2;
        assert_eq!(Frame::decode(&buf), Err(FrameError::Short { kind: 6, len: 2 }));
        let unknown = [0x80, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(Frame::decode(&unknown), Ok(Some((Frame::Unknown { kind: 12 }, 8))));
    }
}
