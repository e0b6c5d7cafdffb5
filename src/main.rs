fn main() -> std::process::ExitCode {
    guacsync::run()
}
