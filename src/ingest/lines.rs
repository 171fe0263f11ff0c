//! Line splitting with a hard cap on line length.
//!
//! `BufRead::read_until` grows its buffer without limit, so a multi-gigabyte
//! "line" (a binary file, a log with a gigantic statement) would exhaust
//! memory. This reader stops buffering at the cap, skips the rest of the line
//! without storing it, and reports the overflow so the caller can resume.

use std::io::{self, BufRead};

use memchr::memchr;

pub(crate) enum LineError {
    Io(io::Error),
    /// The line exceeded the cap; it has been consumed and dropped.
    TooLong,
}

pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Number of the line most recently returned (or rejected), from 1.
    line_no: u64,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(4096),
            line_no: 0,
            max,
        }
    }

    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The line most recently returned by [`LineReader::next_line`].
    pub(crate) fn current(&self) -> &[u8] {
        &self.buf
    }

    /// The next line and its number, without its `\n` (and without a
    /// trailing `\r`, so that logs copied through Windows still parse), or
    /// `None` at end of input.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, LineError> {
        self.buf.clear();
        let mut got_any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LineError::Io(e)),
            };
            if avail.is_empty() {
                if !got_any {
                    return Ok(None);
                }
                break;
            }
            got_any = true;
            match memchr(b'\n', avail) {
                Some(i) => {
                    if self.buf.len() + i > self.max {
                        self.inner.consume(i + 1);
                        self.line_no += 1;
                        return Err(LineError::TooLong);
                    }
                    self.buf.extend_from_slice(&avail[..i]);
                    self.inner.consume(i + 1);
                    break;
                }
                None => {
                    let n = avail.len();
                    if self.buf.len() + n > self.max {
                        self.inner.consume(n);
                        self.line_no += 1;
                        self.skip_rest_of_line()?;
                        return Err(LineError::TooLong);
                    }
                    self.buf.extend_from_slice(avail);
                    self.inner.consume(n);
                }
            }
        }
        self.line_no += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.line_no, &self.buf)))
    }

    fn skip_rest_of_line(&mut self) -> Result<(), LineError> {
        self.buf.clear();
        self.buf.shrink_to(4096);
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LineError::Io(e)),
            };
            if avail.is_empty() {
                return Ok(());
            }
            if let Some(i) = memchr(b'\n', avail) {
                self.inner.consume(i + 1);
                return Ok(());
            }
            let n = avail.len();
            self.inner.consume(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, ()>> {
        let mut r = LineReader::new(io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        loop {
            match r.next_line() {
                Ok(Some((_, l))) => out.push(Ok(l.to_vec())),
                Ok(None) => return out,
                Err(LineError::TooLong) => out.push(Err(())),
                Err(LineError::Io(e)) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn splits_across_buffer_refills_and_strips_crlf() {
        let got = collect(b"hello world\r\nx\n\nlast", 100);
        let want: Vec<Result<Vec<u8>, ()>> = vec![
            Ok(b"hello world".to_vec()),
            Ok(b"x".to_vec()),
            Ok(b"".to_vec()),
            Ok(b"last".to_vec()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn overlong_line_is_reported_then_reading_resumes() {
        let got = collect(b"short\naaaaaaaaaaaaaaaaaaaaaaaa\nnext\n", 8);
        assert_eq!(
            got,
            vec![Ok(b"short".to_vec()), Err(()), Ok(b"next".to_vec())]
        );
    }
}
