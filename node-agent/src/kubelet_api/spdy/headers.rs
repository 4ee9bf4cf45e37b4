//! SPDY/3 header blocks: a count and length-prefixed name/value pairs, compressed with one zlib stream per
//! direction and connection (preset dictionary, each block ending with a sync flush).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::dictionary::dictionary;

pub(crate) type HeaderList = Vec<(String, String)>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("SPDY header compression: {0}")]
    Compress(String),
    #[error("SPDY header decompression: {0}")]
    Decompress(String),
    #[error("malformed SPDY header block")]
    Malformed,
}

/// Compresses the header blocks we send.
pub(crate) struct HeaderEncoder {
    zlib: Compress,
}

impl HeaderEncoder {
    pub(crate) fn new() -> Result<Self, HeaderError> {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(&dictionary()).map_err(|e| HeaderError::Compress(e.to_string()))?;
        Ok(HeaderEncoder { zlib })
    }

    pub(crate) fn encode(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, HeaderError> {
        let raw = serialize(headers);
        let start = self.zlib.total_in();
        let mut out = Vec::with_capacity(raw.len() / 2 + 64);
        loop {
            let consumed = (self.zlib.total_in() - start) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            self.zlib
                .compress_vec(&raw[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| HeaderError::Compress(e.to_string()))?;
            let consumed = (self.zlib.total_in() - start) as usize;
            // The sync flush is complete once all input is taken and zlib left output space unused.
            if consumed == raw.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// Decompresses the header blocks we receive.
pub(crate) struct HeaderDecoder {
    zlib: Decompress,
}

impl HeaderDecoder {
    pub(crate) fn new() -> Self {
        HeaderDecoder { zlib: Decompress::new(true) }
    }

    pub(crate) fn decode(&mut self, block: &[u8]) -> Result<HeaderList, HeaderError> {
        let start = self.zlib.total_in();
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        loop {
            let consumed = (self.zlib.total_in() - start) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(64));
            }
            let before = (self.zlib.total_in(), self.zlib.total_out());
            match self.zlib.decompress_vec(&block[consumed..], &mut out, FlushDecompress::Sync) {
                Ok(Status::StreamEnd) => return Err(HeaderError::Decompress("zlib stream ended".into())),
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.zlib.set_dictionary(&dictionary()).map_err(|e| HeaderError::Decompress(e.to_string()))?;
                    continue;
                }
                Err(e) => return Err(HeaderError::Decompress(e.to_string())),
            }
            let consumed = (self.zlib.total_in() - start) as usize;
            if consumed == block.len() && out.len() < out.capacity() {
                return parse(&out);
            }
            if before == (self.zlib.total_in(), self.zlib.total_out()) && out.len() < out.capacity() {
                return Err(HeaderError::Decompress("truncated header block".into()));
            }
        }
    }
}

fn serialize(headers: &[(String, String)]) -> Vec<u8> {
    let mut raw = Vec::new();
    raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        for part in [name.to_ascii_lowercase().as_bytes(), value.as_bytes()] {
            raw.extend_from_slice(&(part.len() as u32).to_be_bytes());
            raw.extend_from_slice(part);
        }
    }
    raw
}

/// Names come back lowercased; a value holding several NUL-separated values becomes several pairs.
fn parse(raw: &[u8]) -> Result<HeaderList, HeaderError> {
    let mut at = 0;
    let mut next = |len: usize| -> Result<&[u8], HeaderError> {
        let part = raw.get(at..at + len).ok_or(HeaderError::Malformed)?;
        at += len;
        Ok(part)
    };
    let word = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = word(next(4)?);
    let mut headers = Vec::new();
    for _ in 0..count {
        let name_len = word(next(4)?);
        let name = String::from_utf8_lossy(next(name_len)?).to_ascii_lowercase();
        let value_len = word(next(4)?);
        let value = next(value_len)?;
        for part in value.split(|b| *b == 0) {
            headers.push((name.clone(), String::from_utf8_lossy(part).into_owned()));
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> HeaderList {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn blocks_round_trip_through_one_zlib_stream() {
        let mut encoder = HeaderEncoder::new().unwrap();
        let mut decoder = HeaderDecoder::new();
        let first = pairs(&[("streamtype", "error"), ("port", "8080"), ("requestid", "0")]);
        let second = pairs(&[("streamtype", "data"), ("port", "8080"), ("requestid", "0")]);
        let third = pairs(&[]);
        for headers in [&first, &second, &third, &first] {
            let block = encoder.encode(headers).unwrap();
            assert_eq!(&decoder.decode(&block).unwrap(), headers);
        }
    }

    #[test]
    fn names_are_lowercased_and_values_split() {
        let mut encoder = HeaderEncoder::new().unwrap();
        let mut decoder = HeaderDecoder::new();
        let block = encoder.encode(&pairs(&[("StreamType", "stdin"), ("x", "a\0b")])).unwrap();
        assert_eq!(decoder.decode(&block).unwrap(), pairs(&[("streamtype", "stdin"), ("x", "a"), ("x", "b")]));
    }

    #[test]
    fn uses_the_preset_dictionary() {
        // A zlib header with FDICT set and the dictionary's Adler-32, as peers expect.
        let mut encoder = HeaderEncoder::new().unwrap();
        let block = encoder.encode(&pairs(&[("a", "b")])).unwrap();
        assert_eq!(block[1] & 0x20, 0x20);
        let mut adler = (1u32, 0u32);
        for b in dictionary() {
            adler.0 = (adler.0 + u32::from(b)) % 65521;
            adler.1 = (adler.1 + adler.0) % 65521;
        }
        assert_eq!(&block[2..6], &((adler.1 << 16) | adler.0).to_be_bytes());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(HeaderDecoder::new().decode(b"not zlib at all").is_err());
        assert!(matches!(parse(&[0, 0, 0, 1, 0, 0, 0, 9, b'a']), Err(HeaderError::Malformed)));
    }
}
