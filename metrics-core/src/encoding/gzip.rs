//! Gzip compression of an encoded exposition, shared by the `/metrics` response and the
//! Pushgateway client: both send a body in one of this crate's formats with
//! `Content-Encoding: gzip`.

use std::io::Write as _;

pub(crate) use flate2::Compression;

/// `data` compressed as one gzip member at `level`.
///
/// Scrapes use [`Compression::fast`] (compressed on every scrape), pushes
/// [`Compression::default`] (sent rarely, often over slower links).
pub(crate) fn compress(data: &[u8], level: Compression) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), level);
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn round_trips_at_every_level_used() {
        let text = "# TYPE up gauge\nup 1\n".repeat(100);
        for level in [Compression::fast(), Compression::default()] {
            let zipped = compress(text.as_bytes(), level).unwrap();
            assert_eq!(&zipped[..2], &[0x1f, 0x8b], "gzip magic");
            assert!(zipped.len() < text.len());
            let mut back = String::new();
            flate2::read::GzDecoder::new(&zipped[..])
                .read_to_string(&mut back)
                .unwrap();
            assert_eq!(back, text);
        }
        // An empty body is still one valid member.
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&compress(&[], Compression::fast()).unwrap()[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }
}
