//! A model of how PostgreSQL applies the settings of a startup packet,
//! written from the server's source (postinit.c `process_startup_options`,
//! `pg_split_opts`, postgres.c `process_postgres_switches`, guc.c
//! `ParseLongOption`, varlena.c `SplitIdentifierString`), independently of
//! pgward's own reader, so the two can be compared.

/// `isspace()` in the C locale.
fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `pg_split_opts`: whitespace separates, a backslash takes the next byte
/// literally, a trailing lone backslash is dropped.
pub fn split_opts(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        while i < s.len() && c_isspace(s[i]) {
            i += 1;
        }
        if i >= s.len() {
            break;
        }
        let mut tok = Vec::new();
        let mut escaped = false;
        while i < s.len() {
            let c = s[i];
            if c_isspace(c) && !escaped {
                break;
            }
            if !escaped && c == b'\\' {
                escaped = true;
            } else {
                escaped = false;
                tok.push(c);
            }
            i += 1;
        }
        out.push(tok);
    }
    out
}

/// The option letters of `process_postgres_switches` and whether each
/// takes an argument.
fn takes_arg(c: u8) -> Option<bool> {
    const OPTS: &[u8] = b"B:bC:c:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:";
    let i = OPTS.iter().position(|&o| o == c && c != b':')?;
    Some(OPTS.get(i + 1) == Some(&b':'))
}

/// `ParseLongOption`: `name=value`, dashes in the name become underscores.
fn long_option(arg: &[u8]) -> Option<(String, String)> {
    let eq = arg.iter().position(|&b| b == b'=')?;
    let name: Vec<u8> = arg[..eq]
        .iter()
        .map(|&b| if b == b'-' { b'_' } else { b })
        .collect();
    Some((
        String::from_utf8_lossy(&name).to_ascii_lowercase(),
        String::from_utf8_lossy(&arg[eq + 1..]).into_owned(),
    ))
}

/// The `-c`/`--` settings of an options string in the order the server
/// applies them, or `None` when the server refuses the options (the
/// connection then fails).
pub fn options_settings(options: &str) -> Option<Vec<(String, String)>> {
    let argv = split_opts(options.as_bytes());
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let tok = &argv[i];
        i += 1;
        if tok.as_slice() == b"--" {
            // End of options: anything after it is an extra argument.
            return (i == argv.len()).then_some(out);
        }
        if tok.len() < 2 || tok[0] != b'-' {
            // A non-option argument: "invalid command-line argument".
            return None;
        }
        let mut j = 1;
        while j < tok.len() {
            let c = tok[j];
            j += 1;
            match takes_arg(c)? {
                false => continue,
                true => {
                    let arg: Vec<u8> = if j < tok.len() {
                        tok[j..].to_vec()
                    } else {
                        let a = argv.get(i)?.clone();
                        i += 1;
                        a
                    };
                    if c == b'c' || c == b'-' {
                        out.push(long_option(&arg)?);
                    }
                    break;
                }
            }
        }
    }
    Some(out)
}

/// Every setting a startup packet makes, in the order the server applies
/// them (names lower-cased): the last `options` parameter first, then the
/// other parameters in packet order. `None` if the server refuses it.
pub fn server_settings(params: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some((_, o)) = params.iter().rev().find(|(k, _)| k == "options") {
        out.extend(options_settings(o)?);
    }
    for (k, v) in params {
        if matches!(k.as_str(), "user" | "database" | "options" | "replication")
            || k.starts_with("_pq_.")
        {
            continue;
        }
        out.push((k.to_ascii_lowercase(), v.clone()));
    }
    Some(out)
}

/// `scanner_isspace`.
fn scanner_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// `SplitIdentifierString(value, ',')` as `search_path` uses it: `None` on
/// invalid syntax (the server refuses such a value).
pub fn split_search_path(value: &str) -> Option<Vec<String>> {
    let b = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && scanner_isspace(b[i]) {
        i += 1;
    }
    if i == b.len() {
        return Some(out);
    }
    loop {
        let mut name: Vec<u8>;
        if b.get(i) == Some(&b'"') {
            name = Vec::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        name.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        name.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' && !scanner_isspace(b[i]) {
                i += 1;
            }
            if i == start {
                return None;
            }
            name = b[start..i].to_ascii_lowercase();
        }
        while i < b.len() && scanner_isspace(b[i]) {
            i += 1;
        }
        let done = match b.get(i) {
            Some(b',') => {
                i += 1;
                while i < b.len() && scanner_isspace(b[i]) {
                    i += 1;
                }
                false
            }
            None => true,
            Some(_) => return None,
        };
        // NAMEDATALEN - 1, cut on a character boundary.
        if name.len() > 63 {
            let mut cut = 63;
            while cut > 0 && (name[cut] & 0xc0) == 0x80 {
                cut -= 1;
            }
            name.truncate(cut);
        }
        out.push(String::from_utf8_lossy(&name).into_owned());
        if done {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_reads_options_like_the_server() {
        assert_eq!(
            options_settings("-c a=1 --b-c=2 -cd=3 -ec e=4"),
            Some(vec![
                ("a".into(), "1".into()),
                ("b_c".into(), "2".into()),
                ("d".into(), "3".into()),
                ("e".into(), "4".into()),
            ])
        );
        assert_eq!(options_settings("x"), None);
        assert_eq!(options_settings("-c"), None);
        assert_eq!(
            options_settings("-c a=b\\"),
            Some(vec![("a".into(), "b".into())])
        );
        assert_eq!(
            split_search_path(" A , \"B\"\"c\" "),
            Some(vec!["a".into(), "B\"c".into()])
        );
        assert_eq!(split_search_path("a,,b"), None);
    }
}
