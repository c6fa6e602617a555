//! The age file format (age-encryption.org/v1), encryption to X25519
//! recipients only: what `--encrypt-to age1…` needs, written with the
//! primitives the `age` crate itself rests on (issue 28). The `age` crate
//! brought a localisation framework (i18n-embed, fluent, rust-embed,
//! unic-langid) into every build for its error messages; paytrack only ever
//! encrypts, which is the small half of the format.
//!
//! The format, from the specification (C2SP age, "age-encryption.org/v1"):
//! - a random 16-byte file key;
//! - per recipient a stanza `-> X25519 <ephemeral share>` whose body is the
//!   file key sealed with ChaCha20-Poly1305 (nonce 0) under
//!   HKDF-SHA-256(ikm = X25519(ephemeral, recipient), salt = share ‖ recipient,
//!   info = "age-encryption.org/v1/X25519");
//! - `--- ` and the header's HMAC-SHA-256 under HKDF(file key, "", "header");
//! - a 16-byte nonce, then the payload in 64 KiB chunks, each sealed with
//!   ChaCha20-Poly1305 under HKDF(file key, nonce, "payload") and the nonce
//!   `counter (11 bytes, big-endian) ‖ last-chunk flag`.
//!
//! Base64 is the standard alphabet without padding. The tests decrypt every
//! file with the reference `age` command, an independent implementation.

use std::io::{self, Write};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::Mac as _;
use sha2::Sha256;

const INTRO: &str = "age-encryption.org/v1";
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const CHUNK: usize = 64 * 1024;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// An X25519 public key, parsed from its `age1…` Bech32 text.
#[derive(Clone)]
pub struct Recipient([u8; 32]);

impl std::str::FromStr for Recipient {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        use bech32::FromBase32 as _;
        let (hrp, data, variant) = bech32::decode(text).map_err(|e| e.to_string())?;
        if hrp != "age" || variant != bech32::Variant::Bech32 {
            return Err("not an age1… X25519 public key".into());
        }
        let bytes = Vec::<u8>::from_base32(&data).map_err(|e| e.to_string())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a public key is 32 bytes".to_string())?;
        Ok(Recipient(key))
    }
}

fn hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA-256 length");
    out
}

fn random<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes)
}

fn seal(key: &[u8; 32], nonce: &[u8; 12], plain: &[u8]) -> io::Result<Vec<u8>> {
    ChaCha20Poly1305::new(key.into())
        .encrypt(nonce.into(), plain)
        .map_err(|_| io::Error::other("ChaCha20-Poly1305 refused to seal"))
}

/// The header for `file_key`, MAC included, ending in a newline.
fn header(file_key: &[u8; 16], recipients: &[Recipient]) -> io::Result<Vec<u8>> {
    let mut text = format!("{INTRO}\n");
    for recipient in recipients {
        let ephemeral = x25519_dalek::StaticSecret::from(random::<32>()?);
        let share = x25519_dalek::PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&x25519_dalek::PublicKey::from(recipient.0));
        if !shared.was_contributory() {
            return Err(io::Error::other("an age recipient is a low-order point"));
        }
        let mut salt = share.as_bytes().to_vec();
        salt.extend_from_slice(&recipient.0);
        let wrap_key = hkdf(shared.as_bytes(), &salt, X25519_LABEL);
        let body = seal(&wrap_key, &[0; 12], file_key)?;
        // The body (32 bytes, 43 characters) fits in one line shorter than
        // 64 columns, which is also how the format marks the stanza's end.
        text.push_str(&format!(
            "-> X25519 {}\n{}\n",
            B64.encode(share.as_bytes()),
            B64.encode(body)
        ));
    }
    text.push_str("---");
    let mut mac =
        <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&hkdf(file_key, &[], b"header"))
            .expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    text.push_str(&format!(" {}\n", B64.encode(mac.finalize().into_bytes())));
    Ok(text.into_bytes())
}

/// Encrypts what is written to it; `finish` seals the last chunk.
pub struct Writer<W: Write> {
    output: W,
    cipher: ChaCha20Poly1305,
    counter: u64,
    pending: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes the header and the payload nonce to `output`.
    pub fn new(mut output: W, recipients: &[Recipient]) -> io::Result<Self> {
        let file_key = random::<16>()?;
        output.write_all(&header(&file_key, recipients)?)?;
        let nonce = random::<16>()?;
        output.write_all(&nonce)?;
        let payload_key = hkdf(&file_key, &nonce, b"payload");
        Ok(Writer {
            output,
            cipher: ChaCha20Poly1305::new((&payload_key).into()),
            counter: 0,
            pending: Vec::with_capacity(CHUNK + 1),
        })
    }

    fn seal_chunk(&mut self, len: usize, last: bool) -> io::Result<()> {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&self.counter.to_be_bytes());
        nonce[11] = u8::from(last);
        let sealed = self
            .cipher
            .encrypt((&nonce).into(), &self.pending[..len])
            .map_err(|_| io::Error::other("ChaCha20-Poly1305 refused to seal"))?;
        self.output.write_all(&sealed)?;
        self.pending.drain(..len);
        self.counter += 1;
        Ok(())
    }

    /// Seals what is left as the last chunk (empty only for an empty
    /// payload) and flushes; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let len = self.pending.len();
        self.seal_chunk(len, true)?;
        self.output.flush()?;
        Ok(self.output)
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        // A full chunk is sealed as "not last" only once a byte after it is
        // known: a payload of exactly 64 KiB is one last chunk, not two.
        while self.pending.len() > CHUNK {
            self.seal_chunk(CHUNK, false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_parse_from_their_bech32_text_only() {
        // A public key made by the reference age-keygen.
        let ok = "age1y2gwuvghvfvstp7f3nv544dckuw8a68teqwsxp4d9l2farcncy0qy3cftl";
        assert!(ok.parse::<Recipient>().is_ok());
        for bad in [
            "age1nope",
            "",
            "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33",
            &ok[..ok.len() - 1],
        ] {
            assert!(bad.parse::<Recipient>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_payload_is_cut_into_64_kib_chunks_with_the_last_one_marked() {
        let recipient: Recipient = "age1y2gwuvghvfvstp7f3nv544dckuw8a68teqwsxp4d9l2farcncy0qy3cftl"
            .parse()
            .unwrap();
        for (len, chunks) in [(0, 1), (1, 1), (CHUNK, 1), (CHUNK + 1, 2), (3 * CHUNK, 3)] {
            let mut writer = Writer::new(Vec::new(), std::slice::from_ref(&recipient)).unwrap();
            // Written in odd pieces, as a CSV writer does.
            for piece in vec![7u8; len].chunks(1000) {
                writer.write_all(piece).unwrap();
            }
            let out = writer.finish().unwrap();
            let header_end = out.windows(4).position(|w| w == b"--- ").unwrap();
            let body_start =
                header_end + out[header_end..].iter().position(|&b| b == b'\n').unwrap() + 1;
            // Each chunk carries a 16-byte tag; the payload starts with a 16-byte nonce.
            assert_eq!(out.len() - body_start, 16 + len + 16 * chunks, "{len}");
            assert!(out.starts_with(b"age-encryption.org/v1\n-> X25519 "));
        }
    }
}
