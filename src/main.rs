// mimalloc instead of glibc's malloc: see README "Benchmarks" (peak RSS of a
// 100,000-connection plan).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    guacsync::run()
}
