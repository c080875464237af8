//! The server's resident memory, from `/proc/PID/status`.

/// `VmRSS` of process `pid` in KiB, `None` when it cannot be read (no such process, not
/// Linux).
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status)
}

fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// This process's soft limit of open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        assert_eq!(parse_vm_rss_kib("Name:\timserver\nVmRSS:\t   12345 kB\nThreads: 3\n"), Some(12345));
        assert_eq!(parse_vm_rss_kib("Name: x\n"), None);
        assert!(vm_rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
        assert!(open_files_limit().is_some());
    }
}
