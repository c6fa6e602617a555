//! PostgreSQL connection settings the way libpq users write them (issue 18).
//!
//! The `postgres` crate parses neither `PG*` environment variables nor
//! `~/.pgpass`, and its `sslmode` stops at `require` (rust-postgres #729).
//! This module fills those gaps: it parses a `postgres://`/`postgresql://` URL
//! or a `key=value` string, fills what is missing from the environment and the
//! password file with libpq's rules, and never shows the password (`Display`
//! and `Debug` both leave it out). Pure: the environment comes in as a
//! function, so the tests need no process-wide state.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// libpq's `sslmode`. `allow` is read as `prefer` (both settle for an
/// unverified connection; neither is a guarantee).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    /// Encrypt, verify nothing (libpq's `require` without a root certificate).
    Require,
    /// Encrypt and verify the chain against the root certificate, not the name.
    VerifyCa,
    /// Encrypt, verify the chain and that the certificate names the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        match text {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "invalid sslmode {other:?} (disable, allow, prefer, require, verify-ca or verify-full)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Resolved connection settings. The password is private and only reachable
/// through [`ConnInfo::password`], so no formatting path can show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// A host name, an IP address, or a Unix-socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// `sslrootcert`: a PEM file, or `system` for the bundled web roots.
    pub sslrootcert: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    /// libpq's `options`: server settings for the session, e.g. `-c lock_timeout=2s`.
    pub options: Option<String>,
    /// Where the password came from, for messages ("from ~/.pgpass").
    pub password_source: PasswordSource,
    /// Things the admin should hear about (an ignored, too-open password file).
    pub warnings: Vec<String>,
}

/// Where the password came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    None,
    ConnectionString,
    Environment,
    PasswordFile,
}

/// The process environment as the resolver sees it: variables and the home directory.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
    /// The OS user name, libpq's default for `user`.
    fn os_user(&self) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn home(&self) -> Option<PathBuf> {
        dirs::home_dir()
    }
    fn os_user(&self) -> Option<String> {
        self.var("USER").or_else(|| self.var("LOGNAME"))
    }
}

pub use crate::db::is_postgres_url;

/// The settings as written, before defaults: every field optional.
#[derive(Default)]
struct Given {
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    connect_timeout: Option<String>,
    application_name: Option<String>,
    options: Option<String>,
}

impl Given {
    /// Sets a libpq keyword. Errors name the keyword, never the value, since a
    /// value may be a password.
    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        let slot = match key {
            "host" => &mut self.host,
            "port" => &mut self.port,
            "user" => &mut self.user,
            "password" => &mut self.password,
            "dbname" => &mut self.dbname,
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "connect_timeout" => &mut self.connect_timeout,
            "application_name" => &mut self.application_name,
            "options" => &mut self.options,
            other => {
                return Err(format!(
                    "unsupported connection option {:?}",
                    crate::text::for_terminal(other)
                ))
            }
        };
        *slot = Some(value);
        Ok(())
    }
}

/// Parses `text` (URL or key=value) and fills the gaps from `env`.
pub fn resolve(text: &str, env: &dyn Environment) -> Result<ConnInfo, String> {
    let given = if is_postgres_url(text) {
        parse_url(text)?
    } else {
        parse_keyword_value(text)?
    };
    fill(given, env)
}

fn fill(given: Given, env: &dyn Environment) -> Result<ConnInfo, String> {
    let pick =
        |value: Option<String>, var: &str| value.filter(|v| !v.is_empty()).or_else(|| env.var(var));
    let host = pick(given.host, "PGHOST").unwrap_or_else(default_host);
    if host.contains(',') {
        return Err("several hosts in one connection string are not supported yet".into());
    }
    let port = match pick(given.port, "PGPORT") {
        None => 5432,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("invalid port {:?}", crate::text::for_terminal(&p)))?,
    };
    let user = pick(given.user, "PGUSER")
        .or_else(|| env.os_user())
        .ok_or("no user name: set one in the URL or PGUSER")?;
    let dbname = pick(given.dbname, "PGDATABASE").unwrap_or_else(|| user.clone());
    let sslmode = match pick(given.sslmode, "PGSSLMODE") {
        None => SslMode::Prefer,
        Some(m) => SslMode::parse(&m)?,
    };
    let sslrootcert = pick(given.sslrootcert, "PGSSLROOTCERT");
    let connect_timeout = match pick(given.connect_timeout, "PGCONNECT_TIMEOUT") {
        None => None,
        Some(t) => {
            let seconds: i64 = t.trim().parse().map_err(|_| {
                format!(
                    "invalid connect_timeout {:?} (whole seconds)",
                    crate::text::for_terminal(&t)
                )
            })?;
            // libpq: zero or negative means wait forever; 1 is raised to 2.
            (seconds > 0).then(|| Duration::from_secs(seconds.max(2) as u64))
        }
    };
    let application_name = pick(given.application_name, "PGAPPNAME");
    let options = pick(given.options, "PGOPTIONS");
    let mut warnings = Vec::new();
    let (password, password_source) = if let Some(p) = given.password {
        (Some(p), PasswordSource::ConnectionString)
    } else if let Some(p) = env.var("PGPASSWORD") {
        (Some(p), PasswordSource::Environment)
    } else {
        let file = env
            .var("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| env.home().map(|h| h.join(".pgpass")));
        match file.and_then(|f| read_password_file(&f, &host, port, &dbname, &user, &mut warnings))
        {
            Some(p) => (Some(p), PasswordSource::PasswordFile),
            None => (None, PasswordSource::None),
        }
    };
    Ok(ConnInfo {
        host,
        port,
        user,
        password,
        dbname,
        sslmode,
        sslrootcert,
        connect_timeout,
        application_name,
        options,
        password_source,
        warnings,
    })
}

/// libpq's default: the Unix socket directory (Debian's, else the upstream `/tmp`).
fn default_host() -> String {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql".into()
    } else {
        "/tmp".into()
    }
}

impl ConnInfo {
    /// The password, for the driver only.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// True when the host is a Unix-socket directory.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }
}

/// Shown in messages: a URL with every setting but the password.
impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::for_terminal as clean_line;
        let host = clean_line(&self.host).into_owned();
        let user = clean_line(&self.user);
        let dbname = clean_line(&self.dbname);
        if self.is_socket() {
            // A socket directory is not a URL host: libpq's `?host=` form.
            return write!(
                f,
                "postgres://{user}@/{dbname}?host={host}&port={}",
                self.port
            );
        }
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        write!(
            f,
            "postgres://{user}@{host}:{}/{dbname}?sslmode={}",
            self.port,
            self.sslmode.as_str()
        )
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnInfo")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("password_source", &self.password_source)
            .finish_non_exhaustive()
    }
}

/// `postgres[ql]://[user[:password]@][host][:port][/dbname][?key=value&…]`.
fn parse_url(text: &str) -> Result<Given, String> {
    let rest = text.split_once("://").map_or("", |(_, r)| r);
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    let mut given = Given::default();
    // The last `@` ends the user info: a password may contain one unencoded.
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                given.user = Some(percent_decode(user, "user name")?);
            }
            if let Some(p) = password {
                given.password = Some(percent_decode(p, "password")?);
            }
            host_port
        }
        None => authority,
    };
    if host_port.contains(',') {
        return Err("several hosts in one connection string are not supported yet".into());
    }
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (h, after) = bracketed
            .split_once(']')
            .ok_or("invalid URL: unclosed [ in the host")?;
        (h, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if !host.is_empty() {
        given.host = Some(percent_decode(host, "host")?);
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        given.port = Some(percent_decode(p, "port")?);
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        given.dbname = Some(percent_decode(db, "database name")?);
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or("invalid URL: a query parameter without `=`")?;
        let key = percent_decode(key, "parameter name")?;
        let value = percent_decode(value, "parameter value")?;
        given.set(&key, value)?;
    }
    Ok(given)
}

/// Decodes `%XX`; `what` names the part in the error (never its text).
fn percent_decode(text: &str, what: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid URL: bad percent-encoding in the {what}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid URL: the {what} is not UTF-8"))
}

/// libpq's `key=value key2='quoted \' value'` form.
fn parse_keyword_value(text: &str) -> Result<Given, String> {
    let mut given = Given::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!(
                "invalid connection string: missing \"=\" after {:?}",
                crate::text::for_terminal(&key)
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err("invalid connection string: unterminated quoted value".into())
                    }
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(
                                "invalid connection string: unterminated quoted value".into()
                            )
                        }
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        given.set(&key, value)?;
    }
    Ok(given)
}

/// The password for this connection from a libpq password file, if any line
/// matches. libpq's rules: `host:port:database:user:password` lines, `*`
/// matches anything, `\` escapes `:` and `\`, `#` starts a comment, a socket
/// host matches `localhost`, and a file that group or others may read is
/// ignored with a warning.
fn read_password_file(
    path: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            warnings.push(format!(
                "password file {} has group or world access; it was ignored (chmod 0600 it)",
                crate::text::for_terminal(&path.display().to_string())
            ));
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    password_from_lines(&text, host, port, dbname, user)
}

/// The matching part of [`read_password_file`], on the file's text.
fn password_from_lines(
    text: &str,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_password_line(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields[..4]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field == "*" || field == want);
        if matches {
            // Everything after the fourth separator is the password, `:` included.
            return Some(fields[4..].join(":"));
        }
    }
    None
}

/// Splits on unescaped `:`, resolving `\:` and `\\`.
fn split_password_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("never empty").push(next);
                }
            }
            ':' => fields.push(String::new()),
            other => fields.last_mut().expect("never empty").push(other),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnvironment {
        vars: HashMap<&'static str, String>,
        home: Option<PathBuf>,
    }

    impl FakeEnvironment {
        fn new(vars: &[(&'static str, &str)]) -> Self {
            FakeEnvironment {
                vars: vars.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
                home: None,
            }
        }
    }

    impl Environment for FakeEnvironment {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.home.clone()
        }
        fn os_user(&self) -> Option<String> {
            Some("osuser".into())
        }
    }

    fn none() -> FakeEnvironment {
        FakeEnvironment::new(&[])
    }

    #[test]
    fn recognises_both_url_schemes_only() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("PostgreSQL://h/db"));
        assert!(!is_postgres_url("/srv/paytrack.db"));
        assert!(!is_postgres_url("postgres.db"));
        assert!(!is_postgres_url("host=/tmp dbname=x"));
    }

    #[test]
    fn parses_a_full_url_with_encoded_password_and_parameters() {
        let info = resolve(
            "postgresql://admin:p%40ss:w@db.example.org:6543/school?sslmode=verify-full&connect_timeout=5&application_name=pt",
            &none(),
        )
        .unwrap();
        assert_eq!(info.host, "db.example.org");
        assert_eq!(info.port, 6543);
        assert_eq!(info.user, "admin");
        assert_eq!(info.password(), Some("p@ss:w"));
        assert_eq!(info.dbname, "school");
        assert_eq!(info.sslmode, SslMode::VerifyFull);
        assert_eq!(info.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(info.application_name.as_deref(), Some("pt"));
        assert_eq!(info.password_source, PasswordSource::ConnectionString);
    }

    #[test]
    fn socket_directory_hosts_come_encoded_or_as_a_parameter() {
        let a = resolve("postgres://bot@%2Ftmp%2Fpg/school", &none()).unwrap();
        assert_eq!(a.host, "/tmp/pg");
        assert!(a.is_socket());
        let b = resolve("postgres:///school?host=/tmp/pg&port=5433", &none()).unwrap();
        assert_eq!((b.host.as_str(), b.port), ("/tmp/pg", 5433));
        assert_eq!(b.user, "osuser");
        assert_eq!(
            b.to_string(),
            "postgres://osuser@/school?host=/tmp/pg&port=5433"
        );
    }

    #[test]
    fn ipv6_hosts_in_brackets() {
        let info = resolve("postgres://u@[::1]:5433/d", &none()).unwrap();
        assert_eq!((info.host.as_str(), info.port), ("::1", 5433));
        assert!(info.to_string().contains("[::1]:5433"));
    }

    #[test]
    fn parses_keyword_value_strings_with_quotes_and_escapes() {
        let info = resolve(
            "host=/tmp/x port = 5440 user=bot password='it''s' dbname='my school' sslmode=disable",
            &none(),
        );
        // `''` is not an escape in libpq's keyword form: the value ends at the second quote.
        assert!(info.is_err());
        let info = resolve(
            r"host=/tmp/x port = 5440 user=bot password='it\'s a \\ secret' dbname='my school' sslmode=disable",
            &none(),
        )
        .unwrap();
        assert_eq!(info.host, "/tmp/x");
        assert_eq!(info.port, 5440);
        assert_eq!(info.password(), Some(r"it's a \ secret"));
        assert_eq!(info.dbname, "my school");
        assert_eq!(info.sslmode, SslMode::Disable);
    }

    #[test]
    fn environment_fills_only_the_gaps() {
        let env = FakeEnvironment::new(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "5999"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "require"),
            ("PGCONNECT_TIMEOUT", "1"),
            ("PGOPTIONS", "-c lock_timeout=2s"),
        ]);
        let info = resolve("postgres://urluser@/", &env).unwrap();
        assert_eq!(info.host, "envhost");
        assert_eq!(info.port, 5999);
        assert_eq!(info.user, "urluser");
        assert_eq!(info.password(), Some("envpass"));
        assert_eq!(info.password_source, PasswordSource::Environment);
        assert_eq!(info.dbname, "envdb");
        assert_eq!(info.sslmode, SslMode::Require);
        // libpq raises a 1-second timeout to 2.
        assert_eq!(info.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(info.options.as_deref(), Some("-c lock_timeout=2s"));
    }

    #[test]
    fn defaults_follow_libpq() {
        let info = resolve("postgres://h", &none()).unwrap();
        assert_eq!(info.port, 5432);
        assert_eq!(info.user, "osuser");
        assert_eq!(info.dbname, "osuser");
        assert_eq!(info.sslmode, SslMode::Prefer);
        assert_eq!(info.connect_timeout, None);
        assert_eq!(info.password(), None);
    }

    #[test]
    fn bad_values_are_refused_without_echoing_a_password() {
        for text in [
            "postgres://u:hunter2@h:notaport/d",
            "postgres://u:hunter2@h/d?sslmode=verify-everything",
            "postgres://u:hunter2@h/d?nosuchoption=1",
            "postgres://u:hunter2@h/d?connect_timeout=soon",
            "postgres://u:hunter2%zz@h/d",
            "postgres://u:hunter2@h1,h2/d",
            "user=u password='hunter2",
            "user=u password hunter2",
        ] {
            let err = resolve(text, &none()).unwrap_err();
            assert!(!err.contains("hunter2"), "{text}: {err}");
        }
    }

    #[test]
    fn display_and_debug_never_show_the_password() {
        let info = resolve(
            "postgres://admin:s3cr3t-PaSs@db.example.org/school",
            &none(),
        )
        .unwrap();
        let shown = info.to_string();
        assert_eq!(
            shown,
            "postgres://admin@db.example.org:5432/school?sslmode=prefer"
        );
        let debug = format!("{info:?} {info:#?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("<hidden>"));
    }

    #[test]
    fn sslmodes_parse_like_libpq() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Prefer),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let info = resolve(&format!("postgres://u@h/d?sslmode={text}"), &none()).unwrap();
            assert_eq!(info.sslmode, mode);
        }
    }

    #[test]
    fn password_file_lines_match_with_wildcards_and_escapes() {
        let file = "\
# comment line
other:5432:school:admin:wrong
db.example.org:5432:school:admin:right\\:with\\\\colon
*:*:*:bot:botpass
localhost:5440:*:sock:socketpass
";
        assert_eq!(
            password_from_lines(file, "db.example.org", 5432, "school", "admin").as_deref(),
            Some("right:with\\colon")
        );
        assert_eq!(
            password_from_lines(file, "anyhost", 1, "x", "bot").as_deref(),
            Some("botpass")
        );
        // A socket directory matches the `localhost` entry, as in libpq.
        assert_eq!(
            password_from_lines(file, "/tmp/pg", 5440, "school", "sock").as_deref(),
            Some("socketpass")
        );
        assert_eq!(
            password_from_lines(file, "db.example.org", 5433, "school", "admin"),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn password_file_is_used_only_when_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "h:5432:d:u:filepass\n").unwrap();
        let mut env = FakeEnvironment::new(&[("PGPASSFILE", file.to_str().unwrap())]);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = resolve("postgres://u@h/d", &env).unwrap();
        assert_eq!(open.password(), None);
        assert_eq!(open.warnings.len(), 1, "{:?}", open.warnings);
        assert!(!open.warnings[0].contains("filepass"));

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let private = resolve("postgres://u@h/d", &env).unwrap();
        assert_eq!(private.password(), Some("filepass"));
        assert_eq!(private.password_source, PasswordSource::PasswordFile);

        // ~/.pgpass is the default; a password in the URL wins over the file.
        env.vars.clear();
        std::fs::rename(&file, dir.path().join(".pgpass")).unwrap();
        env.home = Some(dir.path().to_path_buf());
        assert_eq!(
            resolve("postgres://u@h/d", &env).unwrap().password(),
            Some("filepass")
        );
        assert_eq!(
            resolve("postgres://u:url@h/d", &env).unwrap().password(),
            Some("url")
        );
    }
}
