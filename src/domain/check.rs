//! What `check` found: one finding per problem, and the checks that passed.
//! Its own module below services and output, so the checks (services) and
//! the lines they print (output) share the report without importing each other.

/// One problem found, and which check found it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub problem: String,
}

/// What `check` saw: the findings, and one line per check that passed.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
    pub passed: Vec<String>,
}
