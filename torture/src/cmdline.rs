//! The command-line words of a torture tool, read one by one: the value
//! after an option, or the tool's usage message and exit 2 when it is
//! missing or not a number. Shared by `paio-torture` and `paio-difffuzz`.

pub(crate) struct Words {
    it: std::iter::Skip<std::env::Args>,
    usage: fn(&str) -> !,
}

impl Words {
    /// The process's arguments after the program name; `usage` prints the
    /// tool's usage with a message and exits.
    pub(crate) fn from_env(usage: fn(&str) -> !) -> Words {
        Words {
            it: std::env::args().skip(1),
            usage,
        }
    }

    /// The number after option `name`.
    pub(crate) fn num(&mut self, name: &str) -> u64 {
        self.it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| (self.usage)(&format!("{name} needs a number")))
    }

    /// The word after option `name`, said to be `what` (`a path`, `a list`)
    /// when it is missing.
    pub(crate) fn value(&mut self, name: &str, what: &str) -> String {
        self.it
            .next()
            .unwrap_or_else(|| (self.usage)(&format!("{name} needs {what}")))
    }
}

impl Iterator for Words {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.it.next()
    }
}
