//! Command line.

use crate::cmdline::Words;
use crate::ffi::now_ms;

pub(crate) struct Args {
    pub(crate) seconds: u64,
    pub(crate) soak: bool,
    pub(crate) seed: u64,
    pub(crate) threads: usize,
    pub(crate) dir: Option<String>,
    pub(crate) allow_glibc: bool,
}

pub(crate) fn parse_args() -> Args {
    let mut a = Args {
        seconds: 60,
        soak: false,
        seed: 0,
        threads: 8,
        dir: None,
        allow_glibc: false,
    };
    let env_secs = std::env::var("PAIO_TORTURE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(s) = env_secs {
        a.seconds = s;
    }
    a.seed = now_ms() ^ (std::process::id() as u64) << 32;
    let mut it = Words::from_env(usage);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => a.seconds = it.num("--seconds"),
            "--soak" => {
                a.seconds = it.num("--soak");
                a.soak = true;
            }
            "--seed" => a.seed = it.num("--seed"),
            "--threads" => a.threads = it.num("--threads").max(1) as usize,
            "--dir" => a.dir = Some(it.value("--dir", "a path")),
            "--allow-glibc" => a.allow_glibc = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a
}

pub(crate) fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: paio-torture [--seconds N | --soak N] [--seed N] [--threads N] [--dir PATH] [--allow-glibc]");
    std::process::exit(2)
}
