//! imbench: a load generator for the server over WKProto/TCP. `imbench --help` for usage;
//! the workloads, the measurements and the summary line are described in `client/src/bench`.

#[path = "../bench/mod.rs"]
mod bench;

fn main() -> std::process::ExitCode {
    let args = match bench::args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("imbench: {message}");
            }
            eprintln!("{}", bench::args::USAGE);
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("imbench: tokio runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench::run(args)) {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("imbench: {message}");
            std::process::ExitCode::from(2)
        }
    }
}
