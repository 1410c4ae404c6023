//! Command line.

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
    let mut it = std::env::args().skip(1);
    let num = |it: &mut dyn Iterator<Item = String>, name: &str| -> u64 {
        it.next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage(&format!("{name} needs a number")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => a.seconds = num(&mut it, "--seconds"),
            "--soak" => {
                a.seconds = num(&mut it, "--soak");
                a.soak = true;
            }
            "--seed" => a.seed = num(&mut it, "--seed"),
            "--threads" => a.threads = num(&mut it, "--threads").max(1) as usize,
            "--dir" => a.dir = Some(it.next().unwrap_or_else(|| usage("--dir needs a path"))),
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
