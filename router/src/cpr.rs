//! CPR numbers (`DDMMYY-SSSS`, dash optional) by DOMAIN.md: the date must exist, the century
//! comes from digit 7 with the year, and the modulus-11 check is only a note (numbers
//! without it have been issued since 2007).

/// A CPR number that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpr {
    /// Ten digits, no dash.
    digits: String,
    pub birth_year: u16,
    /// False when the old modulus-11 check fails: still a valid number.
    pub mod11: bool,
}

impl Cpr {
    /// Parses `DDMMYYSSSS` or `DDMMYY-SSSS`.
    pub fn parse(s: &str) -> Option<Cpr> {
        let s = s.trim();
        let digits: String = match s.len() {
            10 => s.to_string(),
            11 if s.as_bytes()[6] == b'-' => format!("{}{}", &s[..6], &s[7..]),
            _ => return None,
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d: Vec<u32> = digits.bytes().map(|b| (b - b'0') as u32).collect();
        let day = d[0] * 10 + d[1];
        let month = d[2] * 10 + d[3];
        let yy = (d[4] * 10 + d[5]) as u16;
        let century = match d[6] {
            0..=3 => 1900,
            4 | 9 => {
                if yy <= 36 {
                    2000
                } else {
                    1900
                }
            }
            _ => {
                if yy <= 57 {
                    2000
                } else {
                    1800
                }
            }
        };
        let year = century + yy;
        if month == 0 || month > 12 || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        const W: [u32; 10] = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
        let sum: u32 = d.iter().zip(W).map(|(a, w)| a * w).sum();
        Some(Cpr {
            digits,
            birth_year: year,
            mod11: sum.is_multiple_of(11),
        })
    }

    /// `DDMMYY-SSSS`.
    pub fn formatted(&self) -> String {
        format!("{}-{}", &self.digits[..6], &self.digits[6..])
    }

    /// `DDMMYY-XXXX`: what list views and notifications may show.
    pub fn masked(&self) -> String {
        format!("{}-XXXX", &self.digits[..6])
    }

    /// Ten digits without dash, the form used for blind indexing.
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

fn days_in_month(year: u16, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

/// Every valid CPR number in `text`, in order, without repeats. A candidate is six digits,
/// an optional dash or space, and four digits, not inside a longer run of digits.
pub fn find_all(text: &str) -> Vec<Cpr> {
    let b = text.as_bytes();
    // Runs of digits: a CPR is a run of exactly ten, or of six, then `-` or a space, then a
    // run of exactly four. Looking at runs rather than every position keeps this linear
    // with a small constant on digit-heavy text.
    let run_end = |from: usize| {
        b[from..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .map_or(b.len(), |n| from + n)
    };
    let mut found: Vec<Cpr> = Vec::new();
    let mut i = 0;
    while let Some(start) = next_digit(b, i) {
        let end = run_end(start);
        i = end;
        let candidate = match end - start {
            10 => text[start..end].to_string(),
            6 if matches!(b.get(end), Some(b'-' | b' '))
                && b.get(end + 1).is_some_and(u8::is_ascii_digit)
                && run_end(end + 1) - (end + 1) == 4 =>
            {
                i = end + 5;
                format!("{}{}", &text[start..end], &text[end + 1..end + 5])
            }
            _ => continue,
        };
        if let Some(cpr) = Cpr::parse(&candidate) {
            if !found.contains(&cpr) {
                found.push(cpr);
            }
        }
    }
    found
}

/// The first ASCII digit at or after `from`. Most text has none for long stretches: test
/// 16 bytes at a time (a fold without early exit, which the compiler turns into vector
/// compares), then find the digit inside the block. Byte by byte this was 5 % of intake's
/// CPU time at 500 KB.
fn next_digit(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(block) = b.get(i..i + 16) {
        if block.iter().fold(false, |any, c| any | c.is_ascii_digit()) {
            break;
        }
        i += 16;
    }
    b.get(i..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|n| i + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_by_table() {
        // (input, valid, birth year, mod11)
        let table: &[(&str, bool, u16, bool)] = &[
            ("070761-4285", true, 1961, true),
            ("0707614285", true, 1961, true),
            ("070761-4286", true, 1961, false), // fails mod 11: still valid
            ("010115-4000", true, 2015, false), // digit 7 = 4, YY <= 36
            ("010150-4000", true, 1950, false), // digit 7 = 4, YY > 36
            ("010160-5000", true, 1860, true),  // digit 7 = 5, YY > 57
            ("010120-5000", true, 2020, false),
            ("290200-4000", true, 2000, false), // 2000 was a leap year
            ("290201-4000", false, 0, false),
            ("310412-1234", false, 0, false), // April has 30 days
            ("001012-1234", false, 0, false),
            ("011312-1234", false, 0, false),
            ("01011-21234", false, 0, false),
            ("0101121234x", false, 0, false),
        ];
        for (input, valid, year, mod11) in table {
            let got = Cpr::parse(input);
            assert_eq!(got.is_some(), *valid, "{input}");
            if let Some(c) = got {
                assert_eq!(c.birth_year, *year, "{input}");
                assert_eq!(c.mod11, *mod11, "{input}");
            }
        }
    }

    #[test]
    fn finds_and_masks_in_text() {
        let found = find_all("Barnet (cpr 120315-4321) og søster 0101201234; tlf 12345678901.");
        let masked: Vec<_> = found.iter().map(Cpr::masked).collect();
        assert_eq!(masked, ["120315-XXXX", "010120-XXXX"]);
        assert_eq!(found[0].formatted(), "120315-4321");
        assert!(find_all("ordrenr 99999999999").is_empty());
        let edges = |t: &str| -> Vec<String> { find_all(t).iter().map(Cpr::formatted).collect() };
        assert_eq!(edges("1203154321"), ["120315-4321"]);
        assert_eq!(edges("x120315 4321y, 120315-4321 igen"), ["120315-4321"]);
        assert!(edges("120315-43210 og 9120315-4321 og 120315-").is_empty());
        assert!(edges("120315-432").is_empty());
        // Wherever the number falls against the 16-byte blocks of the digit search.
        for pad in 0..40 {
            let t = format!(
                "{}120315-4321{}",
                "æ".repeat(pad / 2) + &"x".repeat(pad % 2),
                "y".repeat(pad % 7)
            );
            assert_eq!(edges(&t), ["120315-4321"], "pad {pad}");
        }
    }
}
