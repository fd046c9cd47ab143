//! Just enough gzip to read `/proc/config.gz`: RFC 1952 framing around an
//! RFC 1951 deflate stream, decoded the simple way (canonical Huffman codes
//! decoded bit by bit, as zlib's `puff.c` teaches). No dependency, bounded
//! output, and malformed input is an error, never a panic.

/// Decompresses a gzip member; fails if the output would exceed `limit` bytes.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    const FTEXT_MASK_HCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b {
        return Err("not gzip data".into());
    }
    if data[2] != 8 {
        return Err(format!("gzip method {} is not deflate", data[2]));
    }
    let flags = data[3];
    let mut pos = 10;
    let get = |p: usize| data.get(p).copied().ok_or("gzip header runs past the end");
    if flags & FEXTRA != 0 {
        let len = usize::from(get(pos)?) | usize::from(get(pos + 1)?) << 8;
        pos += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            while get(pos)? != 0 {
                pos += 1;
            }
            pos += 1;
        }
    }
    if flags & FTEXT_MASK_HCRC != 0 {
        pos += 2;
    }
    let body = data.get(pos..).ok_or("gzip header runs past the end")?;
    let mut state = Inflate {
        input: body,
        pos: 0,
        bitbuf: 0,
        bitcnt: 0,
        out: Vec::new(),
        limit,
    };
    state.run()?;
    let trailer = body
        .get(state.pos..state.pos + 8)
        .ok_or("gzip trailer missing")?;
    let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if isize != state.out.len() as u32 {
        return Err("gzip length check failed".into());
    }
    if crc32(&state.out) != u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) {
        return Err("gzip CRC check failed".into());
    }
    Ok(state.out)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

const MAX_BITS: usize = 15;

struct Inflate<'a> {
    input: &'a [u8],
    pos: usize,
    bitbuf: u32,
    bitcnt: u32,
    out: Vec<u8>,
    limit: usize,
}

/// A canonical Huffman code: how many codes of each length, and the symbols
/// in code order.
struct Huffman {
    count: [u16; MAX_BITS + 1],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, String> {
        let mut count = [0u16; MAX_BITS + 1];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        // Over-subscribed codes are invalid; incomplete ones are allowed
        // (a single distance code, say) and fail only if an unused code is read.
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err("deflate: over-subscribed Huffman code".into());
            }
        }
        let mut offs = [0u16; MAX_BITS + 1];
        for len in 1..MAX_BITS {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[usize::from(offs[usize::from(l)])] = sym as u16;
                offs[usize::from(l)] += 1;
            }
        }
        Ok(Huffman { count, symbol })
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

impl Inflate<'_> {
    fn bits(&mut self, need: u32) -> Result<u32, String> {
        let mut val = self.bitbuf;
        while self.bitcnt < need {
            let byte = *self
                .input
                .get(self.pos)
                .ok_or("deflate: data runs past the end")?;
            self.pos += 1;
            val |= u32::from(byte) << self.bitcnt;
            self.bitcnt += 8;
        }
        self.bitbuf = if need >= 32 { 0 } else { val >> need };
        self.bitcnt -= need;
        Ok(if need >= 32 {
            val
        } else {
            val & ((1 << need) - 1)
        })
    }

    fn push(&mut self, byte: u8) -> Result<(), String> {
        if self.out.len() >= self.limit {
            return Err(format!("output exceeds {} bytes", self.limit));
        }
        self.out.push(byte);
        Ok(())
    }

    fn run(&mut self) -> Result<(), String> {
        loop {
            let last = self.bits(1)?;
            match self.bits(2)? {
                0 => self.stored()?,
                1 => self.fixed()?,
                2 => self.dynamic()?,
                _ => return Err("deflate: invalid block type 3".into()),
            }
            if last == 1 {
                return Ok(());
            }
        }
    }

    fn stored(&mut self) -> Result<(), String> {
        self.bitbuf = 0;
        self.bitcnt = 0;
        let hdr = self
            .input
            .get(self.pos..self.pos + 4)
            .ok_or("deflate: stored block header runs past the end")?;
        let len = u16::from_le_bytes([hdr[0], hdr[1]]);
        if len != !u16::from_le_bytes([hdr[2], hdr[3]]) {
            return Err("deflate: stored block length check failed".into());
        }
        self.pos += 4;
        let bytes = self
            .input
            .get(self.pos..self.pos + usize::from(len))
            .ok_or("deflate: stored block runs past the end")?;
        self.pos += usize::from(len);
        for &b in bytes {
            self.push(b)?;
        }
        Ok(())
    }

    fn decode(&mut self, h: &Huffman) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAX_BITS {
            code |= self.bits(1)? as i32;
            let count = i32::from(h.count[len]);
            if code - count < first {
                return h
                    .symbol
                    .get((index + (code - first)) as usize)
                    .copied()
                    .ok_or_else(|| "deflate: bad code".to_string());
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err("deflate: code not in the Huffman table".into())
    }

    fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), String> {
        loop {
            let sym = self.decode(lit)?;
            match sym {
                0..=255 => self.push(sym as u8)?,
                256 => return Ok(()),
                _ => {
                    let i = usize::from(sym - 257);
                    let (&base, &extra) = LEN_BASE
                        .get(i)
                        .zip(LEN_EXTRA.get(i))
                        .ok_or("deflate: bad length symbol")?;
                    let len = usize::from(base) + self.bits(u32::from(extra))? as usize;
                    let d = usize::from(self.decode(dist)?);
                    let (&base, &extra) = DIST_BASE
                        .get(d)
                        .zip(DIST_EXTRA.get(d))
                        .ok_or("deflate: bad distance symbol")?;
                    let distance = usize::from(base) + self.bits(u32::from(extra))? as usize;
                    if distance > self.out.len() {
                        return Err("deflate: distance before the start of the output".into());
                    }
                    for _ in 0..len {
                        let b = self.out[self.out.len() - distance];
                        self.push(b)?;
                    }
                }
            }
        }
    }

    fn fixed(&mut self) -> Result<(), String> {
        let mut lengths = [0u8; 288];
        for (i, l) in lengths.iter_mut().enumerate() {
            *l = match i {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        let lit = Huffman::new(&lengths)?;
        let dist = Huffman::new(&[5u8; 30])?;
        self.codes(&lit, &dist)
    }

    fn dynamic(&mut self) -> Result<(), String> {
        const ORDER: [usize; 19] = [
            16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
        ];
        let nlen = self.bits(5)? as usize + 257;
        let ndist = self.bits(5)? as usize + 1;
        let ncode = self.bits(4)? as usize + 4;
        if nlen > 286 || ndist > 30 {
            return Err("deflate: too many length or distance codes".into());
        }
        let mut lengths = [0u8; 320];
        for &o in &ORDER[..ncode] {
            lengths[o] = self.bits(3)? as u8;
        }
        let lencode = Huffman::new(&lengths[..19])?;
        let mut index = 0;
        while index < nlen + ndist {
            let sym = self.decode(&lencode)?;
            let (value, repeat) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    let prev = *index
                        .checked_sub(1)
                        .and_then(|i| lengths.get(i))
                        .ok_or("deflate: repeat with no previous length")?;
                    (prev, 3 + self.bits(2)? as usize)
                }
                17 => (0, 3 + self.bits(3)? as usize),
                _ => (0, 11 + self.bits(7)? as usize),
            };
            if index + repeat > nlen + ndist {
                return Err("deflate: too many lengths".into());
            }
            lengths[index..index + repeat].fill(value);
            index += repeat;
        }
        if lengths[256] == 0 {
            return Err("deflate: no end-of-block code".into());
        }
        let lit = Huffman::new(&lengths[..nlen])?;
        let dist = Huffman::new(&lengths[nlen..nlen + ndist])?;
        self.codes(&lit, &dist)
    }
}
